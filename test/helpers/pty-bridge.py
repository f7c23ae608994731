# Runs a command on a new pseudo-terminal and bridges it to pipes: what comes on
# our stdin is written to the terminal as typed (raw bytes: \x10 is ctrl-p), what
# the terminal shows goes to our stdout. Exits with the command's status.
# Used by the integration tests that need a real terminal (attach, -it, detach keys).
# SIGUSR1 resizes the terminal to 30x100 (the kernel then sends SIGWINCH to the command).
import os, pty, select, signal, struct, sys, fcntl, termios

pid, master = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack('HHHH', 24, 80, 0, 0))
signal.signal(signal.SIGUSR1, lambda *_: fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack('HHHH', 30, 100, 0, 0)))
stdin_open = True
while True:
    fds = [master] + ([0] if stdin_open else [])
    r, _, _ = select.select(fds, [], [], 0.2)
    if 0 in r:
        data = os.read(0, 4096)
        if data:
            os.write(master, data)
        else:
            stdin_open = False
    if master in r:
        try:
            data = os.read(master, 65536)
        except OSError:
            data = b''
        if not data:
            break
        os.write(1, data)
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        try:
            while True:
                rr, _, _ = select.select([master], [], [], 0.2)
                if not rr:
                    break
                data = os.read(master, 65536)
                if not data:
                    break
                os.write(1, data)
        except OSError:
            pass
        sys.exit(os.waitstatus_to_exitcode(status) if hasattr(os, 'waitstatus_to_exitcode') else status >> 8)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
