"""What a sandbox child does to itself before it reads an untrusted byte, and the parent's part.

A model file is data, but onnxruntime and onnx are large C++ libraries: one memory bug away from
running code chosen by the file. So each child, first thing, on Linux:
1. dies with its worker (PR_SET_PDEATHSIG), and exits at once if the worker is already gone;
2. enters a new user and network namespace: no network at all (not even loopback), and no
   capability outside, so it cannot read the worker's /proc/<pid>/environ even when everything
   runs as root; where user namespaces are refused, root drops every capability instead;
3. restricts its file access with Landlock: read-only, beneath the Python install, the `grader`
   package and the system's libraries; the dataset cache, uploads and the database are out of
   reach. Landlock also denies TCP, signals and abstract sockets outside the child;
4. a seccomp filter refuses socket() (Unix sockets are files, which namespaces do not hide).
The parent makes itself non-dumpable, so a child without the capability cannot read its memory
or environment. Each step the kernel refuses is named in the result ("limits_not_applied") and
the rest still hold. All of it is done while the child has one thread: Landlock, seccomp and
unshare apply to the calling thread (or require a single-threaded process).
No well-kept Python binding covers these calls (the `landlock` package is a development
release, libseccomp's bindings need the C library), and the client ships with onnx, onnxruntime
and numpy only, so they are made through ctypes. Figures: Documentation/userspace-api/landlock.rst
and seccomp_filter.rst of Linux 6.18; syscall numbers from the kernel's syscall tables.
"""

from __future__ import annotations

import ctypes
import errno
import os
import signal
import struct
import sys
from pathlib import Path

_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE, _PR_SET_NO_NEW_PRIVS, _PR_SET_SECCOMP = 1, 4, 38, 22
_CLONE_NEWUSER, _CLONE_NEWNET = 0x10000000, 0x40000000
_NO_LIMITS_HOOK = "PODIUM_TEST_NO_OS_LIMITS"  # as in grader.oslimits: behave as off Linux
# Test hook: steps to act as refused by the kernel ("userns", "landlock", "seccomp"), as on a
# kernel without them, to show what still holds.
_REFUSE_HOOK = "PODIUM_TEST_CONFINE_REFUSE"

# (audit arch, socket, io_uring_setup): io_uring can open sockets on its own.
_ARCH = {"x86_64": (0xC000003E, 41, 425), "aarch64": (0xC00000B7, 198, 425)}
_LANDLOCK_CREATE, _LANDLOCK_ADD_RULE, _LANDLOCK_RESTRICT = 444, 445, 446

# Landlock access rights (include/uapi/linux/landlock.h) and the ABI that introduced each.
_FS_EXECUTE, _FS_WRITE, _FS_READ_FILE, _FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_FS_ABI1 = (1 << 13) - 1  # execute ... make_sym
_FS_REFER, _FS_TRUNCATE, _FS_IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_FILE_ONLY = _FS_EXECUTE | _FS_WRITE | _FS_READ_FILE | _FS_TRUNCATE | _FS_IOCTL_DEV
_NET_ALL = 0b11  # bind_tcp, connect_tcp (ABI 4)
_SCOPE_ALL = 0b11  # abstract unix sockets, signals (ABI 6)

_LIB_DIRS = ("/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib")
# What onnxruntime 1.31 reads at start-up (strace): the CPU and PCI devices, the OS release.
_SYSTEM_FILES = (
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/etc/os-release",
    "/usr/share/locale",
    "/usr/share/zoneinfo",
    "/proc/self",
    "/proc/cpuinfo",
    "/sys",
)
_GPU_READ = ("/proc", "/usr/share/nvidia")  # what libcuda reads (not verified on a GPU)


def _linux() -> bool:
    return sys.platform.startswith("linux") and not os.environ.get(_NO_LIMITS_HOOK)


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _refused_by_test(step: str) -> None:
    if step in os.environ.get(_REFUSE_HOOK, "").split(","):
        raise OSError(errno.EPERM, f"{step}: refused (test hook)")


def _check(result: int, what: str) -> int:
    if result < 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")
    return result


def protect_parent() -> None:
    """The worker (or web process) that starts children: non-dumpable, so a process without
    CAP_SYS_PTRACE cannot read its memory or /proc/<pid>/environ (SECRET_KEY, DATABASE_URL)."""
    if _linux():
        _libc().prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


def _die_with_parent(libc: ctypes.CDLL, parent_pid: int) -> None:
    _check(libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "PR_SET_PDEATHSIG")
    if os.getppid() != parent_pid:  # the worker died before the signal was armed
        os._exit(1)


def _namespaces(libc: ctypes.CDLL, notes: list[str]) -> None:
    """No network and no capability outside the child; the fallbacks where refused."""
    try:
        _refused_by_test("userns")
        _check(libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET), "user and network namespace")
    except OSError as e:
        refused = e.strerror
    else:
        _drop_capabilities(libc)  # those it holds over its own new namespaces
        return
    if os.geteuid() == 0:  # root without user namespaces: its own network, then no capability
        try:
            _check(libc.unshare(_CLONE_NEWNET), "network namespace")
        except OSError as e:
            notes.append(f"network namespace: {e.strerror}")
        _drop_capabilities(libc)
        notes.append(f"user namespace ({refused}): root dropped its capabilities instead")
        return
    notes.append(f"user and network namespaces ({refused})")


def _drop_capabilities(libc: ctypes.CDLL) -> None:
    header = struct.pack("=Ii", 0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = bytes(24)  # two __user_cap_data_struct, all zero: effective, permitted, inheritable
    _check(libc.capset(header, data), "capset")


class _RulesetAttr(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


def _landlock_abi(libc: ctypes.CDLL) -> int:
    return int(libc.syscall(_LANDLOCK_CREATE, None, ctypes.c_size_t(0), ctypes.c_uint32(1)))


def _handled(abi: int) -> tuple[int, int, int]:
    fs = _FS_ABI1
    fs |= _FS_REFER if abi >= 2 else 0
    fs |= _FS_TRUNCATE if abi >= 3 else 0
    fs |= _FS_IOCTL_DEV if abi >= 5 else 0
    return fs, (_NET_ALL if abi >= 4 else 0), (_SCOPE_ALL if abi >= 6 else 0)


def _add_path(libc: ctypes.CDLL, ruleset: int, path: str, access: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # absent here: nothing to allow
    try:
        if not os.path.isdir(path):
            access &= _FILE_ONLY
        rule = struct.pack("=Qi", access, fd)  # landlock_path_beneath_attr (packed)
        _check(libc.syscall(_LANDLOCK_ADD_RULE, ruleset, 1, rule, 0), f"landlock rule {path}")
    finally:
        os.close(fd)


def readable_paths(grader_dir: str) -> list[str]:
    """What a child may read: the interpreter's paths, the grader package, shared libraries and
    what onnxruntime reads at start. Not the project root when the grader runs from a checkout
    (it holds var/: the database, uploads, the dataset cache); where the grader is installed
    (the student client), its parent is site-packages, which stays readable."""
    root = Path(grader_dir).parent
    checkout = root.name not in ("site-packages", "dist-packages")
    own = [
        p
        for p in sys.path
        if p and os.path.isabs(p) and not (checkout and os.path.realpath(p) == str(root))
    ]
    extra = [p for p in os.environ.get("LD_LIBRARY_PATH", "").split(":") if os.path.isabs(p)]
    return [*own, grader_dir, *_LIB_DIRS, *extra, *_SYSTEM_FILES]


def _gpu_nodes() -> list[str]:
    try:
        return [f"/dev/{n}" for n in os.listdir("/dev") if n.startswith("nvidia")]
    except OSError:
        return []


def _landlock(libc: ctypes.CDLL, reads: list[str], notes: list[str]) -> None:
    _refused_by_test("landlock")
    abi = _landlock_abi(libc)
    if abi < 1:
        notes.append(f"file restriction (Landlock): {os.strerror(ctypes.get_errno())}")
        return
    fs, net, scoped = _handled(abi)
    if abi < 4:
        notes.append(f"TCP restriction (Landlock ABI {abi} < 4)")
    attr = _RulesetAttr(fs, net, scoped)
    size = 8 if abi < 4 else (16 if abi < 6 else 24)
    ruleset = _check(
        libc.syscall(_LANDLOCK_CREATE, ctypes.byref(attr), ctypes.c_size_t(size), 0), "landlock"
    )
    try:
        read = _FS_READ_FILE | _FS_READ_DIR
        gpu = _gpu_nodes()
        for path in [*reads, *(_GPU_READ if gpu else ())]:
            _add_path(libc, ruleset, path, read & fs)
        for node in gpu:  # the device files CUDA opens read-write, with ioctls
            _add_path(libc, ruleset, node, (read | _FS_WRITE | _FS_IOCTL_DEV) & fs)
        _check(libc.syscall(_LANDLOCK_RESTRICT, ruleset, 0), "landlock_restrict_self")
    finally:
        os.close(ruleset)


def _seccomp_no_sockets(libc: ctypes.CDLL) -> None:
    """A BPF filter: socket() and io_uring_setup() fail with EACCES; so does any call made
    through another architecture's entry (x32, i386), which could bypass the numbers."""
    _refused_by_test("seccomp")
    arch, socket_nr, uring_nr = _ARCH[os.uname().machine]
    ld, jeq, jset, ret = 0x20, 0x15, 0x45, 0x06
    deny, allow = 0x00050000 | errno.EACCES, 0x7FFF0000
    program = [
        (ld, 0, 0, 4),  # seccomp_data.arch
        (jeq, 1, 0, arch),
        (ret, 0, 0, deny),
        (ld, 0, 0, 0),  # seccomp_data.nr
        (jset, 3, 0, 0x40000000),  # x32 numbers
        (jeq, 2, 0, socket_nr),
        (jeq, 1, 0, uring_nr),
        (ret, 0, 0, allow),
        (ret, 0, 0, deny),
    ]
    raw = b"".join(struct.pack("=HBBI", *insn) for insn in program)
    buf = ctypes.create_string_buffer(raw, len(raw))
    prog = struct.pack("=HxxxxxxQ", len(program), ctypes.addressof(buf))
    _check(libc.prctl(_PR_SET_SECCOMP, 2, prog, 0, 0), "seccomp")


def confine(*, parent_pid: int, reads: list[str]) -> list[str]:
    """Confine this process (see the module docstring); returns what could not be applied.
    Called first thing in a child, while it still has a single thread."""
    if not _linux():
        return ["process isolation (namespaces, Landlock, seccomp): not on Linux"]
    libc = _libc()
    notes: list[str] = []
    _die_with_parent(libc, parent_pid)
    _namespaces(libc, notes)
    _check(libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")
    try:
        _landlock(libc, reads, notes)
    except OSError as e:
        notes.append(f"file restriction (Landlock): {e.strerror}")
    if os.uname().machine in _ARCH:
        try:
            _seccomp_no_sockets(libc)
        except OSError as e:
            notes.append(f"socket filter (seccomp): {e.strerror}")
    else:
        notes.append(f"socket filter (seccomp): no filter for {os.uname().machine}")
    return notes
