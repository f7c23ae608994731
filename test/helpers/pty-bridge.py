# Runs a command on a new pseudo-terminal and bridges it to pipes: what comes on
# our stdin is written to the terminal as typed (raw bytes: \x10 is ctrl-p), what
# the terminal shows goes to our stdout. Exits with the command's status.
# Used by the integration tests that need a real terminal (attach, -it, detach keys).
# SIGUSR1 resizes the terminal to 30x100 (the kernel then sends SIGWINCH to the command).
# On fd 3 (when open) a line "resized" once it did, and "raw" or "cooked" each time the terminal's mode changes
# (first "cooked"): a test types keys only once whoever holds the terminal made it raw,
# since in cooked mode the line discipline would echo them, hold them until Enter and
# swallow ctrl-q (IXON). Polled every 20 ms; a test waits for the state, not the change.
import os, pty, select, signal, struct, sys, fcntl, termios

try:
    os.set_inheritable(3, False)  # the command (and a monitor that outlives it) must not hold the test's pipe
    mode_fd = 3
except OSError:
    mode_fd = -1

pid, master = pty.fork()
if pid == 0:
    # the size before the command runs: set from here after the fork, it could come after the
    # command read it (a size of 0x0), and its change would then be a resize the test did not make
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack('HHHH', 24, 80, 0, 0))
    os.execvp(sys.argv[1], sys.argv[1:])
mode = None


def tell(line):
    global mode_fd
    if mode_fd < 0:
        return
    try:
        os.write(mode_fd, (line + '\n').encode())
    except OSError:
        mode_fd = -1


def resize(*_):
    # the kernel queues SIGWINCH for the terminal's foreground group within the ioctl: once the
    # test reads "resized", keys it types after come after the signal
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack('HHHH', 30, 100, 0, 0))
    tell('resized')


signal.signal(signal.SIGUSR1, resize)


def report_mode():
    """Writes the terminal's mode to fd 3 when it changed (tcgetattr on a master reads the slave's termios)."""
    global mode
    if mode_fd < 0:
        return
    try:
        lflag = termios.tcgetattr(master)[3]
    except termios.error:
        return
    now = 'cooked' if lflag & (termios.ICANON | termios.ECHO) else 'raw'
    if now != mode:
        mode = now
        tell(now)


stdin_open = True
while True:
    report_mode()
    fds = [master] + ([0] if stdin_open else [])
    r, _, _ = select.select(fds, [], [], 0.02)
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
