#include "json_strict.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <set>
#include <vector>

namespace vaultwall::json_strict {
namespace {

// Where the parser is inside the document, to name duplicate keys.
struct Frame {
  bool is_array = false;
  size_t next_index = 0;
  std::set<std::string> keys;
  std::string path;         // path of this object/array
  std::string current_key;  // object: key of the value being parsed
};

// A SAX handler that builds the DOM and tracks paths, to report duplicate
// keys (nlohmann's own parser keeps the last value silently) and depth.
class StrictSax {
 public:
  StrictSax(Json& root, Diagnostics& diagnostics, std::string_view text)
      : root_(root), diagnostics_(diagnostics), text_(text) {}

  bool null() { return put(nullptr); }
  bool boolean(bool v) { return put(v); }
  bool number_integer(Json::number_integer_t v) { return put(v); }
  bool number_unsigned(Json::number_unsigned_t v) { return put(v); }
  bool number_float(Json::number_float_t v, const Json::string_t&) { return put(v); }
  bool string(Json::string_t& v) { return put(std::move(v)); }
  bool binary(Json::binary_t& v) { return put(Json::binary(std::move(v))); }

  bool start_object(std::size_t) { return open(false); }
  bool key(Json::string_t& key) {
    Frame& frame = frames_.back();
    frame.current_key = key;
    if (!frame.keys.insert(key).second)
      diagnostics_.error(join_path(frame.path, key),
                         "duplicate key \"" + key + "\" (each field may appear only once)");
    return true;
  }
  bool end_object() { return close(); }
  bool start_array(std::size_t) { return open(true); }
  bool end_array() { return close(); }

  bool parse_error(std::size_t position, const std::string& /*token*/,
                   const Json::exception& error) {
    auto [line, column] = line_and_column(position);
    std::string what = error.what();
    // nlohmann's text: "[json.exception.parse_error.101] parse error at line
    // 1, column 5: syntax error while parsing ..." — keep the part after
    // the position, we print our own.
    size_t colon = what.find(": ");
    std::string reason = colon == std::string::npos ? what : what.substr(colon + 2);
    diagnostics_.error("", "invalid JSON at line " + std::to_string(line) + ", column " +
                               std::to_string(column) + ": " + reason);
    failed_ = true;
    return false;
  }

  bool failed() const { return failed_; }

 private:
  // Rule documents nest a handful of levels. Each open level keeps its path,
  // so unbounded depth would cost memory quadratic in it: refuse early.
  static constexpr size_t kMaxDepth = 64;
  bool too_deep() {
    if (frames_.size() < kMaxDepth) return false;
    diagnostics_.error(value_path(), "nested deeper than " + std::to_string(kMaxDepth) +
                                         " levels; a rule document never needs that");
    failed_ = true;
    return true;
  }

  // The path of the value that starts now.
  std::string value_path() const {
    if (frames_.empty()) return "";
    const Frame& frame = frames_.back();
    return frame.is_array ? index_path(frame.path, frame.next_index)
                          : join_path(frame.path, frame.current_key);
  }
  // A complete value was read in the current container.
  bool value_seen() {
    if (!frames_.empty() && frames_.back().is_array) ++frames_.back().next_index;
    return true;
  }
  std::pair<size_t, size_t> line_and_column(size_t position) const {
    // nlohmann reports how many characters it read; the offending one is
    // the last of them.
    size_t at = std::min(position == 0 ? 0 : position - 1, text_.size());
    size_t line = 1, line_start = 0;
    for (size_t i = 0; i < at; ++i)
      if (text_[i] == '\n') ++line, line_start = i + 1;
    return {line, at - line_start + 1};
  }

  // Where the next value goes: the root, the end of the innermost open
  // array, or the member of the innermost open object named by the last
  // key (a duplicate key overwrites: the last value wins). A container's
  // address stays valid while it is open: nothing is added to its parent
  // until it closes (and object members never move).
  Json* place(Json value) {
    if (open_.empty()) {
      root_ = std::move(value);
      return &root_;
    }
    Json& container = *open_.back();
    if (container.is_array()) {
      container.push_back(std::move(value));
      return &container.back();
    }
    Json& member = container[frames_.back().current_key];
    member = std::move(value);
    return &member;
  }
  bool put(Json value) {
    place(std::move(value));
    return value_seen();
  }
  // An object or an array starts: it is placed, then filled while open.
  bool open(bool is_array) {
    if (too_deep()) return false;
    std::string path = value_path();
    Json* container = place(is_array ? Json::array() : Json::object());
    frames_.push_back({is_array, 0, {}, std::move(path), {}});
    open_.push_back(container);
    return true;
  }
  bool close() {
    frames_.pop_back();
    open_.pop_back();
    return value_seen();
  }

  Json& root_;
  std::vector<Json*> open_;  // the containers being filled, innermost last
  Diagnostics& diagnostics_;
  std::string_view text_;
  std::vector<Frame> frames_;
  bool failed_ = false;
};

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                  std::tolower(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::optional<Json> parse_strict_json(std::string_view text, Diagnostics& diagnostics) {
  Json root;
  StrictSax sax(root, diagnostics, text);
  nlohmann::json::sax_parse(text.begin(), text.end(), &sax, nlohmann::json::input_format_t::json,
                            true, false);
  if (sax.failed()) return std::nullopt;
  return root;
}

std::string join_path(std::string_view path, std::string_view key) {
  if (path.empty() || path.back() == ':') return std::string(path) + std::string(key);
  return std::string(path) + "." + std::string(key);
}

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool is_template_expression(std::string_view text) {
  return text.size() >= 2 && text.front() == '[' && text.back() == ']' &&
         !(text.size() > 1 && text[1] == '[');
}

bool is_placeholder_text(std::string_view text) {
  return text.size() >= 2 && text.front() == '<' && text.back() == '>';
}

void WrittenPaths::add(const std::string& canonical, const std::string& written) {
  if (canonical != written) map_[canonical] = written;
}

std::string WrittenPaths::written(std::string_view canonical) const {
  if (map_.empty()) return std::string(canonical);
  // "file:..." paths belong to another file (host facts): the document's
  // root never moves them.
  size_t colon = canonical.find(':');
  bool other_file = colon != std::string_view::npos &&
                    canonical.find_first_of(".[") > colon;
  // Prefixes end where a segment ends: before '.' or '[', after ':', or at
  // the end; the longest mapped one wins.
  for (size_t end = canonical.size() + 1; end-- > 0;) {
    bool boundary = end == 0 || end == canonical.size() || canonical[end] == '.' ||
                    canonical[end] == '[' || canonical[end - 1] == ':';
    if (!boundary || (end == 0 && other_file)) continue;
    auto it = map_.find(canonical.substr(0, end));
    if (it == map_.end()) continue;
    std::string_view rest = canonical.substr(end);
    if (it->second.empty() && !rest.empty() && rest.front() == '.') rest.remove_prefix(1);
    if (end == 0 && !rest.empty() && rest.front() != '[' && !it->second.empty() &&
        it->second.back() != ':')
      return it->second + "." + std::string(rest);
    return it->second + std::string(rest);
  }
  return std::string(canonical);
}

void WrittenPaths::translate(std::vector<Diagnostic>& diagnostics) const {
  if (map_.empty()) return;
  for (Diagnostic& d : diagnostics) d.path = written(d.path);
}

std::string index_path(std::string_view path, size_t index) {
  return std::string(path) + "[" + std::to_string(index) + "]";
}

std::string describe(const Json& value) {
  if (value.is_null()) return "null";
  if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
  if (value.is_string()) return "string " + value.dump();
  if (value.is_number()) return "number " + value.dump();
  if (value.is_array()) return "an array";
  if (value.is_object()) return "an object";
  return "a value of unsupported type";
}

std::optional<std::string> closest_name(std::string_view name,
                                        std::initializer_list<std::string_view> known) {
  std::optional<std::string> best;
  // Longer names tolerate more typos ("ignoreMissingServiceEndpoint").
  size_t best_distance = std::max<size_t>(3, name.size() / 4 + 1);
  for (std::string_view candidate : known) {
    size_t distance = edit_distance(name, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = std::string(candidate);
    }
  }
  return best;
}

bool JsonWalker::expect_object(const Json& value, const std::string& path) {
  if (value.is_object()) return true;
  diagnostics_.error(path, "expected an object, got " + describe(value));
  return false;
}

bool JsonWalker::expect_array(const Json& value, const std::string& path) {
  if (value.is_array()) return true;
  diagnostics_.error(path, "expected an array, got " + describe(value));
  return false;
}

void JsonWalker::reject_unknown_fields(const Json& object, const std::string& path,
                                       std::initializer_list<std::string_view> known,
                                       std::string_view where) {
  std::map<std::string_view, std::string> seen;  // known field -> the key that named it
  for (const auto& [key, value] : object.items()) {
    auto field = std::find_if(known.begin(), known.end(),
                              [&](std::string_view k) { return same_name(k, key); });
    if (field != known.end()) {
      auto [first, inserted] = seen.emplace(*field, key);
      if (!inserted) {
        // Name the spelling that is not the field's own (the object's key
        // order is lost in parsing).
        bool first_is_other = first->second != *field && key == *field;
        const std::string& odd = first_is_other ? first->second : key;
        const std::string& other = first_is_other ? key : first->second;
        diagnostics_.error(join_path(path, odd),
                           "duplicate key \"" + odd + "\": field names are case-insensitive, and \"" +
                               other + "\" names the same field; keep one");
      }
      continue;
    }
    std::string message = "unknown field \"" + key + "\" in " + std::string(where);
    if (auto suggestion = closest_name(key, known))
      message += " (did you mean \"" + *suggestion + "\"?)";
    else {
      message += " (known fields:";
      for (std::string_view k : known) message += " " + std::string(k);
      message += ")";
    }
    diagnostics_.error(join_path(path, key), message);
  }
}

const Json* JsonWalker::member(const Json& object, const std::string& path, std::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  if (it == object.end()) {
    for (auto other = object.begin(); other != object.end(); ++other)
      if (same_name(other.key(), key)) {
        it = other;
        if (paths_)
          paths_->add(join_path(path, key), join_path(paths_->written(path), other.key()));
        break;
      }
  }
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

bool JsonWalker::is_placeholder(const Json& value, const std::string& path) {
  if (!refuse_placeholders_ || !value.is_string() || !is_placeholder_text(value.get<std::string>()))
    return false;
  diagnostics_.error(path, value.dump() +
                               " is a placeholder of vaultwallctl host init: fill it in (its "
                               "description says what it is) or remove the field");
  return true;
}

std::optional<std::string> JsonWalker::string_value(const Json& value, const std::string& path) {
  if (is_placeholder(value, path)) return std::nullopt;
  if (value.is_string()) return value.get<std::string>();
  diagnostics_.error(path, "expected a string, got " + describe(value));
  return std::nullopt;
}

std::optional<bool> JsonWalker::bool_value(const Json& value, const std::string& path) {
  if (value.is_boolean()) return value.get<bool>();
  diagnostics_.error(path, "expected true or false, got " + describe(value));
  return std::nullopt;
}

std::optional<int64_t> JsonWalker::integer_value(const Json& value, const std::string& path) {
  if (is_placeholder(value, path)) return std::nullopt;
  if (value.is_number_unsigned()) {
    auto number = value.get<uint64_t>();
    if (number <= static_cast<uint64_t>(INT64_MAX)) return static_cast<int64_t>(number);
    diagnostics_.error(path, "number " + value.dump() + " is out of range");
    return std::nullopt;
  }
  if (value.is_number_integer()) return value.get<int64_t>();
  diagnostics_.error(path, "expected an integer, got " + describe(value));
  return std::nullopt;
}

}  // namespace vaultwall::json_strict
