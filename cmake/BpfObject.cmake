# add_bpf_skeleton(TARGET SOURCE file.bpf.c HEADERS ... NAME name [DEFINES D...])
#
# Compiles a BPF C file with clang (-g -O2, UAPI headers) into
# ${NAME}.bpf.o and generates ${NAME}.skel.h with bpftool. TARGET is an
# INTERFACE library that puts the skeleton and bpf/ on the include path.
find_program(BPF_CLANG clang REQUIRED)
find_program(BPFTOOL bpftool PATHS /usr/sbin /sbin REQUIRED)

function(add_bpf_skeleton target)
  cmake_parse_arguments(ARG "" "SOURCE;NAME" "HEADERS;DEFINES" ${ARGN})
  list(TRANSFORM ARG_DEFINES PREPEND "-D")
  set(obj ${CMAKE_CURRENT_BINARY_DIR}/${ARG_NAME}.bpf.o)
  set(skel ${CMAKE_CURRENT_BINARY_DIR}/${ARG_NAME}.skel.h)
  get_filename_component(src_dir ${ARG_SOURCE} DIRECTORY)
  execute_process(COMMAND uname -m OUTPUT_VARIABLE arch OUTPUT_STRIP_TRAILING_WHITESPACE)
  string(REPLACE "x86_64" "x86" bpf_arch "${arch}")
  string(REPLACE "aarch64" "arm64" bpf_arch "${bpf_arch}")

  add_custom_command(
    OUTPUT ${obj}
    # -idirafter: the multiarch dir has asm/types.h, which UAPI headers need.
    COMMAND ${BPF_CLANG} -g -O2 -Wall -target bpf -D__TARGET_ARCH_${bpf_arch}
            -idirafter /usr/include/${arch}-linux-gnu -I${src_dir} ${ARG_DEFINES}
            -c ${ARG_SOURCE} -o ${obj}
    DEPENDS ${ARG_SOURCE} ${ARG_HEADERS}
    COMMENT "BPF ${ARG_NAME}.bpf.o"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${BPFTOOL} gen skeleton ${obj} name ${ARG_NAME} > ${skel}
    DEPENDS ${obj}
    COMMENT "skeleton ${ARG_NAME}.skel.h"
    VERBATIM)
  add_custom_target(${target}_gen DEPENDS ${skel})
  add_library(${target} INTERFACE)
  add_dependencies(${target} ${target}_gen)
  target_include_directories(${target} INTERFACE ${CMAKE_CURRENT_BINARY_DIR} ${src_dir})
  target_link_libraries(${target} INTERFACE PkgConfig::LIBBPF)
  set(${target}_OBJECT ${obj} PARENT_SCOPE)
  set_property(GLOBAL PROPERTY ${target}_OBJECT ${obj})
endfunction()
