// vaultwall_jited_lines: where a loaded BPF program's machine code came from.
// For a program id, prints one line per jited line-info record: the kernel
// address where the record's machine code starts, the function (subprogram)
// it is in, the source file:line and the source text, tab separated,
// ordered by address. scripts/profile-datapath.sh joins it with perf's
// sampled addresses to say which source lines the nanoseconds are spent on
// (Debian's bpftool is built without libbfd: `bpftool prog dump jited` is
// unavailable, and perf cannot annotate BPF code). Not a test.
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct ProgramInfo {
  std::vector<uint64_t> func_addresses;  // one per subprogram, the main one first
  std::vector<uint32_t> func_lengths;    // bytes of machine code of each
  std::vector<bpf_line_info> lines;      // per record: file, line, source text (BTF offsets)
  std::vector<uint64_t> line_addresses;  // per record: the jited address
  std::vector<bpf_func_info> funcs;      // per subprogram: its BTF type (the name)
  uint32_t btf_id = 0;
};

int fail(const std::string& what) {
  std::fprintf(stderr, "vaultwall_jited_lines: %s: %s\n", what.c_str(), std::strerror(errno));
  return 1;
}

// bpf_prog_info in two calls: the counts, then the arrays sized by them.
bool read_program(int fd, ProgramInfo& out) {
  bpf_prog_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) return false;
  out.func_addresses.resize(info.nr_jited_ksyms);
  out.func_lengths.resize(info.nr_jited_func_lens);
  out.lines.resize(info.nr_line_info);
  out.line_addresses.resize(info.nr_jited_line_info);
  out.funcs.resize(info.nr_func_info);
  out.btf_id = info.btf_id;
  const uint32_t line_rec = info.line_info_rec_size, func_rec = info.func_info_rec_size;
  if (line_rec != sizeof(bpf_line_info) || (info.nr_func_info && func_rec != sizeof(bpf_func_info))) {
    errno = EPROTO;
    return false;
  }
  info = bpf_prog_info{};
  info.nr_jited_ksyms = static_cast<uint32_t>(out.func_addresses.size());
  info.jited_ksyms = reinterpret_cast<uintptr_t>(out.func_addresses.data());
  info.nr_jited_func_lens = static_cast<uint32_t>(out.func_lengths.size());
  info.jited_func_lens = reinterpret_cast<uintptr_t>(out.func_lengths.data());
  info.nr_line_info = static_cast<uint32_t>(out.lines.size());
  info.line_info_rec_size = line_rec;
  info.line_info = reinterpret_cast<uintptr_t>(out.lines.data());
  info.nr_jited_line_info = static_cast<uint32_t>(out.line_addresses.size());
  info.jited_line_info_rec_size = sizeof(uint64_t);
  info.jited_line_info = reinterpret_cast<uintptr_t>(out.line_addresses.data());
  info.nr_func_info = static_cast<uint32_t>(out.funcs.size());
  info.func_info_rec_size = func_rec;
  info.func_info = reinterpret_cast<uintptr_t>(out.funcs.data());
  len = sizeof(info);
  return bpf_obj_get_info_by_fd(fd, &info, &len) == 0;
}

std::string text_at(const btf* btf, uint32_t offset) {
  const char* s = btf ? btf__name_by_offset(btf, offset) : nullptr;
  return s ? s : "";
}

std::string func_name(const ProgramInfo& p, const btf* btf, size_t i) {
  if (btf && i < p.funcs.size())
    if (const btf_type* t = btf__type_by_id(btf, p.funcs[i].type_id)) return text_at(btf, t->name_off);
  return "func" + std::to_string(i);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s PROG_ID   (root; prints address, function, file:line, source)\n",
                 argv[0]);
    return 2;
  }
  const int fd = bpf_prog_get_fd_by_id(static_cast<uint32_t>(std::strtoul(argv[1], nullptr, 10)));
  if (fd < 0) return fail(std::string("program id ") + argv[1]);
  ProgramInfo p;
  if (!read_program(fd, p)) return fail("read the program's jited line info");
  close(fd);
  btf* btf = p.btf_id ? btf__load_from_kernel_by_id(p.btf_id) : nullptr;

  const size_t records = std::min(p.lines.size(), p.line_addresses.size());
  for (size_t i = 0; i < records; i++) {
    // The subprogram holding the address: the last one starting at or before it.
    size_t func = 0;
    for (size_t f = 0; f < p.func_addresses.size(); f++)
      if (p.func_addresses[f] <= p.line_addresses[i]) func = f;
    std::string file = text_at(btf, p.lines[i].file_name_off);
    if (auto slash = file.rfind('/'); slash != std::string::npos) file = file.substr(slash + 1);
    std::string source = text_at(btf, p.lines[i].line_off);
    std::replace(source.begin(), source.end(), '\t', ' ');
    std::printf("%016llx\t%s\t%s:%u\t%s\n", static_cast<unsigned long long>(p.line_addresses[i]),
                func_name(p, btf, func).c_str(), file.c_str(), BPF_LINE_INFO_LINE_NUM(p.lines[i].line_col),
                source.c_str());
  }
  // The end of each subprogram, so a sample past the last record of one is not
  // given to it.
  for (size_t f = 0; f < p.func_addresses.size() && f < p.func_lengths.size(); f++)
    std::printf("%016llx\t-\t-\t(end of %s)\n",
                static_cast<unsigned long long>(p.func_addresses[f] + p.func_lengths[f]),
                func_name(p, btf, f).c_str());
  btf__free(btf);
  return 0;
}
