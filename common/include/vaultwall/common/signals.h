// SIGINT, SIGTERM and SIGHUP as flags, for the commands that run until
// they are told to stop (metrics --listen, log --follow, textfile loops).
#pragma once

namespace vaultwall {

// Installs the handlers, without SA_RESTART, so poll(2) and sleeps return
// at once when a signal arrives. SIGHUP is caught only for commands that
// reopen their output on it; elsewhere it still ends the process.
void stop_on_signals(bool catch_hangup = false);

// SIGINT or SIGTERM arrived.
bool stop_requested();

// SIGHUP arrived since the last call (logrotate: reopen the output file).
bool take_hangup();

}  // namespace vaultwall
