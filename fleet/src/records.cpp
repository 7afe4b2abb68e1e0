#include "vaultwall/fleet/records.h"

#include <algorithm>
#include <array>

namespace vaultwall::fleet {
namespace {

// Reads fields of one object, remembering the first problem (with its
// path) so a parser reads like the schema it checks.
class FieldReader {
 public:
  FieldReader(const Json& object, std::string path, std::optional<Error>& problem)
      : object_(object), path_(std::move(path)), problem_(problem) {}

  std::string string(const char* key, bool required = true) {
    const Json* value = find(key, required);
    if (value == nullptr) return {};
    if (!value->is_string()) return refuse(key, "is not a string"), std::string();
    return value->get<std::string>();
  }
  int64_t integer(const char* key, bool required = true) {
    const Json* value = find(key, required);
    if (value == nullptr) return 0;
    if (!value->is_number_integer()) return refuse(key, "is not an integer"), 0;
    return value->get<int64_t>();
  }
  bool boolean(const char* key) {
    const Json* value = find(key, false);
    if (value == nullptr) return false;
    if (!value->is_boolean()) return refuse(key, "is not true or false"), false;
    return value->get<bool>();
  }
  std::vector<std::string> strings(const char* key) {
    const Json* value = find(key, false);
    std::vector<std::string> out;
    if (value == nullptr) return out;
    if (!value->is_array()) return refuse(key, "is not a list of strings"), out;
    for (const Json& item : *value) {
      if (!item.is_string()) return refuse(key, "is not a list of strings"), out;
      out.push_back(item.get<std::string>());
    }
    return out;
  }
  // The object under key, or nullptr (absent and optional, or refused).
  const Json* object(const char* key, bool required = true) {
    const Json* value = find(key, required);
    if (value == nullptr || value->is_null()) return nullptr;
    if (!value->is_object()) return refuse(key, "is not an object"), nullptr;
    return value;
  }
  std::string path_of(const char* key) const { return path_.empty() ? key : path_ + "." + key; }
  void refuse(const char* key, const std::string& why) {
    if (!problem_) problem_ = Error{EINVAL, path_of(key) + " " + why, ""};
  }

 private:
  const Json* find(const char* key, bool required) {
    auto it = object_.find(key);
    if (it == object_.end()) {
      if (required) refuse(key, "is missing");
      return nullptr;
    }
    return &*it;
  }
  const Json& object_;
  std::string path_;
  std::optional<Error>& problem_;
};

// Parses a value as one JSON object with schemaVersion 1.
Result<Json> parse_object(std::string_view value, const char* what) {
  Json parsed;
  try {
    parsed = Json::parse(value);
  } catch (const Json::parse_error& e) {
    return fail(EINVAL, std::string(what) + " is not JSON (" + e.what() + ")",
                "it was not written by vaultwall; write it again with vaultwallctl fleet put");
  }
  if (!parsed.is_object())
    return fail(EINVAL, std::string(what) + " is not a JSON object",
                "it was not written by vaultwall; write it again with vaultwallctl fleet put");
  auto version = parsed.find("schemaVersion");
  if (version == parsed.end() || !version->is_number_integer() ||
      version->get<int64_t>() != kRecordSchemaVersion)
    return fail(EINVAL,
                "schemaVersion: " + std::string(what) + " has schema version " +
                    (version == parsed.end() ? std::string("(none)") : version->dump()) +
                    ", this vaultwall reads " + std::to_string(kRecordSchemaVersion),
                "write it with a vaultwallctl of the same release as the agents");
  return parsed;
}

template <class T>
Result<T> finish(T value, const std::optional<Error>& problem, const char* what) {
  if (problem) return std::unexpected(with_context(*problem, what));
  return value;
}

bool is_hex_digest(const std::string& text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

Json or_null(const std::string& text) { return text.empty() ? Json(nullptr) : Json(text); }

// A record's text fields, in the order they are written and read: one list
// for both, so a field cannot be written under one name and read under
// another.
template <class Record>
struct TextField {
  const char* name;
  std::string Record::*member;
  bool required;
};

// The record's schemaVersion, then its text fields.
template <class Record, size_t N>
Json text_fields_json(const Record& record, const std::array<TextField<Record>, N>& fields) {
  Json out{{"schemaVersion", kRecordSchemaVersion}};
  for (const TextField<Record>& field : fields) out[field.name] = record.*field.member;
  return out;
}

constexpr std::array<TextField<PolicyRecord>, 5> kPolicyTextFields{
    {{"vault", &PolicyRecord::vault, true},
     {"sharedDigest", &PolicyRecord::shared_digest, true},
     {"author", &PolicyRecord::author, false},
     {"comment", &PolicyRecord::comment, false},
     {"createdAt", &PolicyRecord::created_at, false}}};

constexpr std::array<std::pair<SyncState, std::string_view>, 6> kStateNames{{
    {SyncState::kStarting, "starting"},
    {SyncState::kApplying, "applying"},
    {SyncState::kInSync, "in-sync"},
    {SyncState::kRejected, "rejected"},
    {SyncState::kError, "error"},
    {SyncState::kNoPolicy, "no-policy"},
}};

}  // namespace

// ---- policy ---------------------------------------------------------------------

Json to_json(const PolicyRecord& record) {
  Json tags = Json::object();
  for (const auto& [name, prefixes] : record.service_tags) tags[name] = prefixes;
  Json out = text_fields_json(record, kPolicyTextFields);
  out["policy"] = record.policy;
  out["serviceTags"] = tags;
  return out;
}

Checked<PolicyRecord> parse_policy_record(std::string_view value) {
  const char* what = "the policy record";
  Checked<PolicyRecord> out;
  auto parsed_or = parse_object(value, what);
  if (!parsed_or) {
    out.diagnostics.push_back({Severity::kError, "", parsed_or.error().message()});
    return out;
  }
  const Json& parsed = *parsed_or;
  std::optional<Error> problem;
  FieldReader fields(parsed, "", problem);
  PolicyRecord record;
  for (const TextField<PolicyRecord>& field : kPolicyTextFields) {
    record.*field.member = fields.string(field.name, field.required);
    // Checked as soon as it is read: its refusal comes before a later field's.
    if (field.member == &PolicyRecord::shared_digest && !problem &&
        !is_hex_digest(record.shared_digest))
      fields.refuse("sharedDigest", "is not a hex SHA-256 digest");
  }
  if (const Json* policy = fields.object("policy")) record.policy = *policy;
  if (const Json* tags = fields.object("serviceTags", false)) {
    FieldReader tag_fields(*tags, "serviceTags", problem);
    for (const auto& [name, prefixes] : tags->items())
      record.service_tags[name] = tag_fields.strings(name.c_str());
  }
  if (problem) {
    // FieldReader's context is "<path> <what is wrong>".
    size_t space = problem->context.find(' ');
    out.diagnostics.push_back(
        {Severity::kError, problem->context.substr(0, space), problem->context.substr(space + 1)});
    return out;
  }
  out.value = std::move(record);
  return out;
}

// ---- host info --------------------------------------------------------------------

namespace {

constexpr std::array<TextField<HostInfo>, 6> kHostInfoFields{
    {{"host", &HostInfo::host, true},
     {"vault", &HostInfo::vault, true},
     {"agentVersion", &HostInfo::agent_version, false},
     {"enrolledAt", &HostInfo::enrolled_at, false},
     {"pinDir", &HostInfo::pin_dir, false},
     {"hostFacts", &HostInfo::host_facts, false}}};

}  // namespace

Json to_json(const HostInfo& info) { return text_fields_json(info, kHostInfoFields); }

Result<HostInfo> parse_host_info(std::string_view value) {
  HostInfo info;
  const char* what = "the host info";
  Json parsed = VW_TRY(parse_object(value, what));
  std::optional<Error> problem;
  FieldReader fields(parsed, "", problem);
  for (const TextField<HostInfo>& field : kHostInfoFields)
    info.*field.member = fields.string(field.name, field.required);
  return finish(std::move(info), problem, what);
}

// ---- host status ------------------------------------------------------------------

std::string_view to_string(SyncState state) {
  for (const auto& [value, name] : kStateNames)
    if (value == state) return name;
  return "unknown";
}

std::optional<SyncState> parse_sync_state(std::string_view text) {
  for (const auto& [value, name] : kStateNames)
    if (name == text) return value;
  return std::nullopt;
}

bool HostStatus::same_report(const HostStatus& other) const {
  HostStatus a = *this, b = other;
  a.reported_at = b.reported_at = "";
  return a == b;
}

namespace {

Json to_json(const StatusError& e) {
  return Json{
      {"revision", e.revision}, {"source", e.source}, {"path", e.path}, {"message", e.message}};
}

Json to_json(const CounterSummary& c) {
  return Json{{"dataPlane", c.data_plane},
              {"dropped", c.dropped},
              {"auditWouldDeny", c.audit_would_deny},
              {"at", c.at}};
}

// What the status says of a part it may lack: null when it has none.
template <class Part>
Json json_or_null(const std::optional<Part>& part) {
  return part ? to_json(*part) : Json(nullptr);
}

}  // namespace

Json to_json(const HostStatus& s) {
  return Json{
      {"schemaVersion", kRecordSchemaVersion},
      {"host", s.host},
      {"vault", s.vault},
      {"state", to_string(s.state)},
      {"policyRevision", s.policy_revision},
      {"sharedDigest", or_null(s.shared_digest)},
      {"author", or_null(s.author)},
      {"kernel", {{"generation", s.kernel_generation}, {"digest", or_null(s.kernel_digest)}}},
      {"error", json_or_null(s.error)},
      {"verify",
       {{"result", s.verify.result}, {"differences", s.verify.differences}, {"at", s.verify.at}}},
      {"appliedAt", or_null(s.applied_at)},
      {"reportedAt", s.reported_at},
      {"connected", s.connected},
      {"watchMember", or_null(s.watch_member)},
      {"counters", json_or_null(s.counters)},
      {"agentVersion", s.agent_version},
  };
}

Result<HostStatus> parse_host_status(std::string_view value) {
  const char* what = "the host status";
  Json parsed = VW_TRY(parse_object(value, what));
  std::optional<Error> problem;
  FieldReader fields(parsed, "", problem);
  HostStatus s;
  s.host = fields.string("host");
  s.vault = fields.string("vault");
  std::string state = fields.string("state");
  if (auto known = parse_sync_state(state))
    s.state = *known;
  else if (!problem)
    fields.refuse("state", "'" + state + "' is not a state this vaultwall knows");
  s.policy_revision = fields.integer("policyRevision", false);
  // Optional texts are written as null when empty.
  auto text = [&](FieldReader& from, const Json& object, const char* key) {
    auto it = object.find(key);
    return it == object.end() || it->is_null() ? std::string() : from.string(key);
  };
  s.shared_digest = text(fields, parsed, "sharedDigest");
  s.author = text(fields, parsed, "author");
  if (const Json* kernel = fields.object("kernel", false)) {
    FieldReader k(*kernel, "kernel", problem);
    s.kernel_generation = static_cast<uint64_t>(k.integer("generation", false));
    s.kernel_digest = text(k, *kernel, "digest");
  }
  if (const Json* error = fields.object("error", false)) {
    FieldReader e(*error, "error", problem);
    s.error = StatusError{e.integer("revision", false), e.string("source", false),
                          e.string("path", false), e.string("message")};
  }
  if (const Json* verify = fields.object("verify", false)) {
    FieldReader v(*verify, "verify", problem);
    s.verify = VerifyReport{v.string("result"), v.strings("differences"), v.string("at", false)};
  }
  s.applied_at = text(fields, parsed, "appliedAt");
  s.reported_at = fields.string("reportedAt", false);
  s.connected = fields.boolean("connected");
  s.watch_member = text(fields, parsed, "watchMember");
  if (const Json* counters = fields.object("counters", false)) {
    FieldReader c(*counters, "counters", problem);
    s.counters = CounterSummary{static_cast<uint64_t>(c.integer("dataPlane", false)),
                                static_cast<uint64_t>(c.integer("dropped", false)),
                                static_cast<uint64_t>(c.integer("auditWouldDeny", false)),
                                c.string("at", false)};
  }
  s.agent_version = fields.string("agentVersion", false);
  return finish(std::move(s), problem, what);
}

}  // namespace vaultwall::fleet
