#include "etcd_cluster.h"

#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "vaultwall/common/text.h"

#ifndef VW_TEST_ETCD_DIR
#error "VW_TEST_ETCD_DIR (a directory in the build tree) must be defined"
#endif

namespace vaultwall::fleet::testing {
namespace {

namespace fs = std::filesystem;

bool in_path(const std::string& tool) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (!dir.empty() && access((dir + "/" + tool).c_str(), X_OK) == 0) return true;
  }
  return false;
}

// The kernel's ephemeral range (outgoing connections take their local
// ports from it), so the ports given to etcd can stay out of it.
std::pair<int, int> ephemeral_ports() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 32768, high = 60999;
  in >> low >> high;
  return {low, high};
}

bool port_bindable(int port) {
  int sock = socket(AF_INET, SOCK_STREAM, 0);
  if (sock < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(uint16_t(port));
  bool ok = bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(sock);
  return ok;
}

// A port nothing listens on now, below the ephemeral range and not in
// `taken`. A port from bind(0) would come from the ephemeral range, where
// any outgoing connection on the machine (another test's client, say) can
// take it before etcd binds it: the member then exits "address in use".
Result<int> free_port(const std::vector<int>& taken) {
  static std::mt19937 random(std::random_device{}() ^ uint32_t(getpid()));
  auto [ephemeral_low, ephemeral_high] = ephemeral_ports();
  int low = 20000, high = ephemeral_low - 1;
  if (high <= low) low = ephemeral_high + 1, high = 65535;
  std::uniform_int_distribution<int> pick(low, high);
  for (int attempt = 0; attempt < 200; ++attempt) {
    int port = pick(random);
    if (std::find(taken.begin(), taken.end(), port) == taken.end() && port_bindable(port))
      return port;
  }
  return fail(EADDRINUSE,
              "no free port on 127.0.0.1 in " + std::to_string(low) + "-" + std::to_string(high));
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// fork + exec with stdout and stderr to files; the child dies with us.
Result<pid_t> spawn_process(const std::vector<std::string>& argv, const std::string& out_path,
                            const std::string& err_path) {
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return fail_errno("fork " + argv[0]);
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int null = open("/dev/null", O_RDONLY);
    if (out < 0 || err < 0 || null < 0) _exit(126);
    dup2(null, 0);
    dup2(out, 1);
    dup2(err, 2);
    execvp(args[0], args.data());
    _exit(127);
  }
  return pid;
}

}  // namespace

Result<std::string> run_command(const std::vector<std::string>& argv) {
  static int counter = 0;
  std::string base = std::string(VW_TEST_ETCD_DIR) + "/cmd-" + std::to_string(getpid()) + "-" +
                     std::to_string(counter++);
  fs::create_directories(VW_TEST_ETCD_DIR);
  pid_t pid = VW_TRY(spawn_process(argv, base + ".out", base + ".err"));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::string out = read_file(base + ".out"), err = read_file(base + ".err");
  fs::remove(base + ".out");
  fs::remove(base + ".err");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string command;
    for (const std::string& arg : argv) command += (command.empty() ? "" : " ") + arg;
    return fail(EIO, command + " exited " + std::to_string(WEXITSTATUS(status)) + ": " + err);
  }
  return out;
}

std::string EtcdCluster::missing_tools() {
  std::string missing;
  for (const char* tool : {"etcd", "etcdctl", "openssl"}) {
    if (!in_path(tool)) missing += (missing.empty() ? "" : ", ") + std::string(tool);
  }
  return missing.empty()
             ? ""
             : missing +
                   " not installed (scripts/setup.sh installs etcd-server, etcd-client, openssl)";
}

namespace {

// Removes the clusters of test processes that died before cleaning up
// (their etcd members died with them: PR_SET_PDEATHSIG).
void sweep_stale_clusters() {
  std::error_code ignored;
  for (const auto& entry : fs::directory_iterator(VW_TEST_ETCD_DIR, ignored)) {
    std::string name = entry.path().filename().string();
    size_t dash = name.rfind('-');
    if (dash == std::string::npos) continue;
    pid_t owner = parse_decimal<pid_t>(std::string_view(name).substr(dash + 1)).value_or(0);
    if (owner > 0 && ::kill(owner, 0) != 0 && errno == ESRCH) fs::remove_all(entry.path(), ignored);
  }
}

}  // namespace

Result<std::unique_ptr<EtcdCluster>> EtcdCluster::start(const std::string& name,
                                                        ClusterOptions options) {
  sweep_stale_clusters();
  std::string dir = std::string(VW_TEST_ETCD_DIR) + "/" + name + "-" + std::to_string(getpid());
  std::error_code ignored;
  fs::remove_all(dir, ignored);
  fs::create_directories(dir);
  std::unique_ptr<EtcdCluster> cluster(new EtcdCluster(dir, options));
  if (options.tls) VW_TRY(cluster->make_certificates());
  // A member can lose its port to another process between the pick and its
  // bind, or a loaded machine can stall a first election: start again on
  // fresh ports and data dirs rather than fail the test on the machine's
  // luck. Each attempt's logs are kept beside the next for diagnosis.
  constexpr int kAttempts = 3;
  Error last;
  for (int attempt = 1; attempt <= kAttempts; ++attempt) {
    auto started = cluster->start_members(attempt);
    if (started) return cluster;
    last = started.error();
    cluster->stop_members(attempt);
  }
  return fail(last.code, last.context + " (after " + std::to_string(kAttempts) + " starts)",
              last.hint);
}

Result<void> EtcdCluster::start_members(int attempt) {
  members_.clear();
  std::vector<int> taken;
  for (int i = 0; i < options_.members; ++i) {
    Member member{"m" + std::to_string(i), 0, 0, -1};
    taken.push_back(member.client_port = VW_TRY(free_port(taken)));
    taken.push_back(member.peer_port = VW_TRY(free_port(taken)));
    members_.push_back(member);
  }
  // Each attempt is a new cluster: its own token, so no member of an
  // earlier attempt can join it.
  token_ = fs::path(dir_).filename().string() + "-" + std::to_string(attempt);
  for (int i = 0; i < options_.members; ++i) VW_TRY(spawn(i, true));
  return wait_healthy(std::chrono::seconds(30));
}

// Kills this attempt's members and moves their data and logs aside.
void EtcdCluster::stop_members(int attempt) {
  std::error_code ignored;
  for (int i = 0; i < int(members_.size()); ++i) {
    kill(i);
    const std::string base = dir_ + "/" + members_[i].name;
    fs::remove_all(base, ignored);
    fs::rename(base + ".log", base + ".attempt" + std::to_string(attempt) + ".log", ignored);
  }
}

EtcdCluster::~EtcdCluster() {
  for (int i = 0; i < int(members_.size()); ++i) kill(i);
  if (std::getenv("VW_KEEP_ETCD_DIR") == nullptr) {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
}

std::string EtcdCluster::client_url(int member) const {
  return std::string(options_.tls ? "https" : "http") +
         "://127.0.0.1:" + std::to_string(members_[member].client_port);
}

std::string EtcdCluster::peer_url(int member) const {
  return "http://127.0.0.1:" + std::to_string(members_[member].peer_port);
}

std::vector<std::string> EtcdCluster::client_urls() const {
  std::vector<std::string> urls;
  for (int i = 0; i < int(members_.size()); ++i) urls.push_back(client_url(i));
  return urls;
}

TlsFiles EtcdCluster::client_tls() const {
  if (!options_.tls) return {};
  return TlsFiles{dir_ + "/ca.pem", dir_ + "/client.pem", dir_ + "/client.key"};
}

GatewayOptions EtcdCluster::options_for(const std::vector<int>& members) const {
  GatewayOptions options;
  for (int member : members) options.endpoints.push_back(client_url(member));
  options.tls = client_tls();
  return options;
}

GatewayOptions EtcdCluster::options_for_all() const {
  std::vector<int> all;
  for (int i = 0; i < int(members_.size()); ++i) all.push_back(i);
  return options_for(all);
}

Result<void> EtcdCluster::make_certificates() {
  const std::string ec = "ec", curve = "ec_paramgen_curve:prime256v1";
  auto sign = [&](const std::string& name, const std::string& subject,
                  const std::string& extensions) -> Result<void> {
    std::ofstream(dir_ + "/" + name + ".ext") << extensions;
    VW_TRY(run_command({"openssl", "req", "-new", "-newkey", ec, "-pkeyopt", curve, "-nodes",
                        "-keyout", dir_ + "/" + name + ".key", "-out", dir_ + "/" + name + ".csr",
                        "-subj", subject}));
    VW_TRY(run_command({"openssl", "x509", "-req", "-in", dir_ + "/" + name + ".csr", "-CA",
                        dir_ + "/ca.pem", "-CAkey", dir_ + "/ca.key", "-CAcreateserial", "-out",
                        dir_ + "/" + name + ".pem", "-days", "2", "-extfile",
                        dir_ + "/" + name + ".ext"}));
    return {};
  };
  VW_TRY(run_command({"openssl", "req", "-x509", "-newkey", ec, "-pkeyopt", curve, "-nodes",
                      "-keyout", dir_ + "/ca.key", "-out", dir_ + "/ca.pem", "-days", "2", "-subj",
                      "/CN=vaultwall test CA"}));
  // The gateway proxies to its own member with the server certificate, so
  // it needs clientAuth too.
  VW_TRY(
      sign("server", "/CN=etcd-test-member",
           "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n"));
  // No CN: the gateway refuses client certificates that carry one.
  VW_TRY(sign("client", "/O=vaultwall test host",
              "subjectAltName=DNS:host1.test\nextendedKeyUsage=clientAuth\n"));
  return {};
}

Result<void> EtcdCluster::spawn(int member, bool initial) {
  Member& m = members_[member];
  std::string cluster;
  for (int i = 0; i < int(members_.size()); ++i) {
    cluster += (cluster.empty() ? "" : ",") + members_[i].name + "=" + peer_url(i);
  }
  std::vector<std::string> argv = {
      "etcd", "--name", m.name, "--data-dir", dir_ + "/" + m.name, "--listen-client-urls",
      client_url(member), "--advertise-client-urls", client_url(member), "--listen-peer-urls",
      peer_url(member), "--initial-advertise-peer-urls", peer_url(member), "--initial-cluster",
      cluster, "--initial-cluster-state", initial ? "new" : "existing", "--initial-cluster-token",
      token_,
      // Fast elections keep failover tests short (etcd: 100 ms / 1 s).
      "--heartbeat-interval", "50", "--election-timeout", "500", "--logger", "zap", "--log-level",
      "warn"};
  if (options_.progress_notify_interval.count() > 0) {
    argv.push_back("--experimental-watch-progress-notify-interval=" +
                   std::to_string(options_.progress_notify_interval.count()) + "s");
  }
  if (options_.auth_token_ttl_seconds > 0) {
    argv.push_back("--auth-token-ttl=" + std::to_string(options_.auth_token_ttl_seconds));
  }
  if (options_.tls) {
    for (std::string flag :
         {"--cert-file=" + dir_ + "/server.pem", "--key-file=" + dir_ + "/server.key",
          "--trusted-ca-file=" + dir_ + "/ca.pem", std::string("--client-cert-auth")}) {
      argv.push_back(flag);
    }
  }
  std::string log = dir_ + "/" + m.name + ".log";
  m.pid = VW_TRY(spawn_process(argv, log, log));
  return {};
}

void EtcdCluster::kill(int member) {
  Member& m = members_[member];
  if (m.pid <= 0) return;
  ::kill(m.pid, SIGKILL);
  while (waitpid(m.pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  m.pid = -1;
}

Result<void> EtcdCluster::restart(int member) {
  if (members_[member].pid > 0) return fail(EBUSY, members_[member].name + " is running");
  return spawn(member, false);
}

namespace {

// "exited N" or "killed by signal N" for a child that ended (not reaped:
// the owner reaps it), or empty while it runs.
std::string exit_status(pid_t pid) {
  siginfo_t info{};
  if (waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid != pid)
    return "";
  return info.si_code == CLD_EXITED ? "exited " + std::to_string(info.si_status)
                                    : "killed by signal " + std::to_string(info.si_status);
}

std::string last_lines(const std::string& text, int count) {
  size_t end = text.find_last_not_of('\n');
  if (end == std::string::npos) return "(empty log)";
  size_t start = end + 1;
  for (int seen = 0; seen < count && start > 0; ++seen) {
    size_t newline = text.rfind('\n', start - 1);
    start = newline == std::string::npos ? 0 : newline;
    if (start == 0) break;
  }
  return text.substr(start == 0 ? 0 : start + 1, end + 1 - (start == 0 ? 0 : start + 1));
}

httplib::Client member_client(const std::string& url, const TlsFiles& tls) {
  httplib::Client client(url, tls.cert_file, tls.key_file);
  if (!tls.ca_file.empty()) client.set_ca_cert_path(tls.ca_file);
  client.set_connection_timeout(std::chrono::milliseconds(300));
  client.set_read_timeout(std::chrono::seconds(2));
  return client;
}

}  // namespace

Result<void> EtcdCluster::wait_healthy(std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last;
  while (std::chrono::steady_clock::now() < deadline) {
    bool all = true;
    for (int i = 0; i < int(members_.size()) && all; ++i) {
      if (members_[i].pid <= 0) continue;
      if (std::string exited = exit_status(members_[i].pid); !exited.empty()) {
        const std::string log = dir_ + "/" + members_[i].name + ".log";
        return fail(0, members_[i].name + " " + exited + ": " + last_lines(read_file(log), 3),
                    "read the members' logs in " + dir_ + " (VW_KEEP_ETCD_DIR=1 keeps them)");
      }
      auto client = member_client(client_url(i), client_tls());
      auto reply = client.Get("/health");
      all = reply && reply->status == 200 && reply->body.find("\"true\"") != std::string::npos;
      if (!all)
        last = members_[i].name + ": " + (reply ? reply->body : httplib::to_string(reply.error()));
    }
    if (all) return {};
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return fail(ETIMEDOUT, "etcd cluster in " + dir_ + " not healthy (" + last + ")",
              "read the members' logs in " + dir_ + " (VW_KEEP_ETCD_DIR=1 keeps them)");
}

int EtcdCluster::leader() const {
  for (int i = 0; i < int(members_.size()); ++i) {
    if (members_[i].pid <= 0) continue;
    auto client = member_client(client_url(i), client_tls());
    auto reply = client.Post("/v3/maintenance/status", "{}", "application/json");
    if (!reply || reply->status != 200) continue;
    auto body = nlohmann::json::parse(reply->body, nullptr, false);
    if (body.is_discarded()) continue;
    std::string self = body["header"].value("member_id", ""), leader = body.value("leader", "");
    if (!leader.empty() && self == leader) return i;
  }
  return -1;
}

Result<std::string> EtcdCluster::etcdctl(const std::vector<std::string>& args) const {
  std::string endpoints;
  for (int i = 0; i < int(members_.size()); ++i) {
    if (members_[i].pid > 0) endpoints += (endpoints.empty() ? "" : ",") + client_url(i);
  }
  std::vector<std::string> argv = {"etcdctl", "--endpoints=" + endpoints, "--dial-timeout=2s"};
  if (options_.tls) {
    argv.push_back("--cacert=" + dir_ + "/ca.pem");
    argv.push_back("--cert=" + dir_ + "/client.pem");
    argv.push_back("--key=" + dir_ + "/client.key");
  }
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv);
}

}  // namespace vaultwall::fleet::testing
