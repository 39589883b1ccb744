#!/usr/bin/env python3
"""Which functions of an executable run, in each process it becomes.

    trace_functions.py EXE OUT -- COMMAND [ARGS...]

Runs COMMAND under ptrace, following every fork, clone and exec. Whenever a
process is (or, after a fork, still is) EXE, an int3 is planted at the entry
of every function in EXE's symbol table; each one is put back the first time
it is hit, so a function costs one trap per process. A forked child gets the
breakpoints again, and the functions whose return addresses are on its stack
at the fork count as run by it too (it returns through them).

OUT gets one line per (process, function), in the order of first execution:
    <seq> <pid> <parent pid> <role> <symbol>
role is "first" for a process that exec'd EXE, "fork" for a forked copy.

Used by bench/startup-order.sh; needs root (or ptrace rights), x86_64 and an
EXE that keeps its symbol table (the runtime's profile strips debuginfo only).
"""
import bisect
import ctypes
import os
import signal
import subprocess
import sys

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
PTRACE_TRACEME, PTRACE_PEEKTEXT, PTRACE_POKETEXT, PTRACE_CONT = 0, 1, 4, 7
PTRACE_GETREGS, PTRACE_SETREGS = 12, 13
PTRACE_SETOPTIONS, PTRACE_GETEVENTMSG = 0x4200, 0x4201
OPTIONS = 0x2 | 0x4 | 0x8 | 0x10 | 0x100000  # TRACEFORK VFORK CLONE EXEC EXITKILL
EVENT_FORK, EVENT_VFORK, EVENT_CLONE, EVENT_EXEC = 1, 2, 3, 4
WALL = 0x40000000


class Regs(ctypes.Structure):
    _fields_ = [(n, ctypes.c_ulonglong) for n in (
        "r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax "
        "rip cs eflags rsp ss fs_base gs_base ds es fs gs").split()]


def functions(exe):
    """(address, size, name) of every function, sorted by address."""
    out = subprocess.run(["nm", "-n", "-S", exe], capture_output=True, text=True, check=True)
    funcs = []
    for line in out.stdout.splitlines():
        p = line.split()
        if len(p) == 4 and p[2] in "tTwW" and int(p[1], 16) > 0:
            funcs.append((int(p[0], 16), int(p[1], 16), p[3]))
    if not funcs:
        sys.exit(f"trace_functions: {exe} has no symbol table")
    return funcs


class Tracer:
    def __init__(self, exe, out):
        self.exe = os.path.realpath(exe)
        self.funcs = functions(self.exe)
        self.starts = [f[0] for f in self.funcs]
        self.index = {a: i for i, a in enumerate(self.starts)}
        self.orig = {}      # function address -> its first byte
        self.base = {}      # pid -> load address, for pids that are EXE
        self.parent = {}    # pid -> parent pid
        self.role = {}
        self.seen = {}      # pid -> set of function indexes
        self.early = set()  # children whose attach stop came before the fork event
        self.pending = {}   # child pid -> base to arm at its attach stop
        self.seq = 0
        self.out = open(out, "w")

    def peek(self, pid, addr):
        return libc.ptrace(PTRACE_PEEKTEXT, pid, addr, None) & 0xFFFFFFFFFFFFFFFF

    def poke_byte(self, pid, addr, byte):
        word = self.peek(pid, addr)
        if libc.ptrace(PTRACE_POKETEXT, pid, addr, ctypes.c_void_p((word & ~0xFF) | byte)) != 0:
            raise OSError(ctypes.get_errno(), f"poke pid {pid} at {addr:#x}")

    def load_address(self, pid):
        with open(f"/proc/{pid}/maps") as maps:
            for line in maps:
                p = line.split()
                if len(p) >= 6 and int(p[2], 16) == 0 and os.path.realpath(p[5]) == self.exe:
                    return int(p[0].split("-")[0], 16)
        raise RuntimeError(f"pid {pid}: {self.exe} is not mapped")

    def arm(self, pid, base, role):
        self.base[pid] = base
        self.role[pid] = role
        self.seen[pid] = set()
        for a, _, _ in self.funcs:
            if a not in self.orig:
                self.orig[a] = self.peek(pid, base + a) & 0xFF
            self.poke_byte(pid, base + a, 0xCC)

    def record(self, pid, i):
        if i in self.seen[pid]:
            return
        self.seen[pid].add(i)
        self.seq += 1
        self.out.write(f"{self.seq} {pid} {self.parent.get(pid, 0)} {self.role[pid]} {self.funcs[i][2]}\n")

    def function_at(self, offset):
        i = bisect.bisect_right(self.starts, offset) - 1
        if i >= 0 and offset < self.starts[i] + self.funcs[i][1]:
            return i
        return None

    def scan_stack(self, pid):
        """Functions a forked child returns through: code addresses on its stack."""
        regs = Regs()
        libc.ptrace(PTRACE_GETREGS, pid, None, ctypes.byref(regs))
        base = self.base[pid]
        try:
            with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
                mem.seek(regs.rsp)
                data = mem.read(256 << 10)
        except OSError:
            data = b""
        for k in range(0, len(data) - 7, 8):
            v = int.from_bytes(data[k:k + 8], "little") - base
            if 0 <= v < self.starts[-1] + self.funcs[-1][1]:
                i = self.function_at(v)
                if i is not None:
                    self.record(pid, i)

    def attach_child(self, pid):
        self.role.setdefault(pid, "other")
        if pid in self.pending:
            self.arm(pid, self.pending.pop(pid), "fork")
            self.scan_stack(pid)

    def run(self, argv):
        child = os.fork()
        if child == 0:
            libc.ptrace(PTRACE_TRACEME, 0, None, None)
            os.kill(os.getpid(), signal.SIGSTOP)
            os.execvp(argv[0], argv)
        os.waitpid(child, WALL)
        libc.ptrace(PTRACE_SETOPTIONS, child, None, ctypes.c_void_p(OPTIONS))
        self.role[child] = "other"
        libc.ptrace(PTRACE_CONT, child, None, None)
        status_code = 0
        while True:
            try:
                pid, status = os.waitpid(-1, WALL)
            except ChildProcessError:
                break
            if os.WIFEXITED(status) or os.WIFSIGNALED(status):
                if pid == child:
                    status_code = os.waitstatus_to_exitcode(status)
                continue
            if not os.WIFSTOPPED(status):
                continue
            sig, event, deliver = os.WSTOPSIG(status), status >> 16, 0
            if sig == signal.SIGTRAP and event in (EVENT_FORK, EVENT_VFORK, EVENT_CLONE):
                msg = ctypes.c_ulong()
                libc.ptrace(PTRACE_GETEVENTMSG, pid, None, ctypes.byref(msg))
                new = msg.value
                self.parent[new] = pid
                if pid in self.base:
                    self.pending[new] = self.base[pid]
                if new in self.early:
                    self.early.discard(new)
                    self.attach_child(new)
                    libc.ptrace(PTRACE_CONT, new, None, None)
            elif sig == signal.SIGTRAP and event == EVENT_EXEC:
                self.base.pop(pid, None)
                if os.path.realpath(f"/proc/{pid}/exe") == self.exe:
                    self.arm(pid, self.load_address(pid), "first")
            elif sig == signal.SIGTRAP and pid in self.base:
                regs = Regs()
                libc.ptrace(PTRACE_GETREGS, pid, None, ctypes.byref(regs))
                offset = regs.rip - 1 - self.base[pid]
                if offset in self.orig:
                    self.poke_byte(pid, regs.rip - 1, self.orig[offset])
                    regs.rip -= 1
                    libc.ptrace(PTRACE_SETREGS, pid, None, ctypes.byref(regs))
                    self.record(pid, self.index[offset])
                else:
                    deliver = sig
            elif sig == signal.SIGSTOP and pid not in self.role:
                if pid not in self.parent:
                    self.early.add(pid)  # resumed when its fork event arrives
                    continue
                self.attach_child(pid)
            else:
                deliver = sig
            libc.ptrace(PTRACE_CONT, pid, None, ctypes.c_void_p(deliver))
        self.out.close()
        return status_code


def main():
    if len(sys.argv) < 5 or sys.argv[3] != "--":
        sys.exit(__doc__)
    sys.exit(Tracer(sys.argv[1], sys.argv[2]).run(sys.argv[4:]))


if __name__ == "__main__":
    main()
