"""Run inside the sandbox's child process, before the user's code: an audit hook that refuses network,
new processes, native code loading, and file access outside the scratch folder and Python's own files.

Defence in depth: the process also runs in its own network namespace (where ``unshare`` works), under
CPU, memory, file-size and open-file rlimits, with a wall-clock timeout that kills its process group.
"""

import os
import sys

SCRATCH = os.path.realpath(sys.argv[1])
READABLE = tuple({os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, *sys.path) if p})
BLOCKED_PREFIXES = ("socket.", "subprocess.", "os.exec", "os.spawn", "os.posix_spawn", "ctypes.", "winreg.")
BLOCKED = {"os.system", "os.fork", "os.forkpty", "os.kill", "os.killpg", "os.putenv", "os.unsetenv", "pty.spawn"}
PATH_EVENTS = {"os.remove", "os.rename", "os.mkdir", "os.rmdir", "os.chmod", "os.chown", "os.symlink", "os.link",
               "os.truncate", "os.utime", "shutil.rmtree", "shutil.copyfile", "shutil.move", "os.listdir",
               "os.scandir", "os.chdir"}  # fmt: skip


def _inside(path, roots):
    if isinstance(path, int):
        return True  # an already-open descriptor
    real = os.path.realpath(os.fsdecode(path) if isinstance(path, bytes) else str(path))
    return any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def _hook(event, args):
    if event in BLOCKED or event.startswith(BLOCKED_PREFIXES):
        raise PermissionError(f"sandbox: {event} is not allowed")
    if event == "open":
        path, mode, flags = args
        writing = (mode and any(c in mode for c in "wax+")) or (flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
        roots = (SCRATCH,) if writing else (SCRATCH, *READABLE)
        if path is not None and not _inside(path, roots):
            raise PermissionError(f"sandbox: cannot open {path!r} outside the scratch folder")
    elif event in PATH_EVENTS:
        for p in args[:2]:
            if isinstance(p, (str, bytes, os.PathLike)) and not _inside(p, (SCRATCH, *READABLE)):
                raise PermissionError(f"sandbox: {event} outside the scratch folder is not allowed")
        if event not in ("os.listdir", "os.scandir", "os.chdir") and not _inside(args[0], (SCRATCH,)):
            raise PermissionError(f"sandbox: {event} outside the scratch folder is not allowed")


def _limits(cpu_s, memory_mb, file_mb):
    import resource

    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb << 20, memory_mb << 20))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_mb << 20, file_mb << 20))
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def main():
    _limits(*(int(a) for a in sys.argv[2:5]))  # set here, not in preexec_fn (unsafe when the parent has threads)
    script = os.path.join(SCRATCH, "main.py")
    with open(script, encoding="utf-8") as f:
        code = compile(f.read(), "main.py", "exec")
    sys.argv = ["main.py"]
    sys.addaudithook(_hook)
    exec(code, {"__name__": "__main__", "__file__": script})


if __name__ == "__main__":
    main()
