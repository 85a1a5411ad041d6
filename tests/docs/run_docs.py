#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Runs the shell blocks of one documentation page as tests (issue #27; tests/docs/README.md says how).

Every fenced shell block (```sh, ```bash, ```shell) of the page runs, in document order, in one bash session (so
variables and files carry from block to block, as in a terminal a user pastes into), against the real dfproxy and
dfproxyctl of the build, inside a network and mount namespace of its own: only loopback is up, /etc/resolv.conf
names a dnsmasq that answers the page's fixture names, and small origins stand in for the hosts the page uses.
A block fails when one of its commands fails (bash's ERR trap, as `set -e` would see it) or when its output differs
from the output block the page shows after it. Exit status: 0 pass, 1 fail, 77 skipped (ctest SKIP_RETURN_CODE).
"""

import argparse
import difflib
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

SKIP = 77
SHELL_LANGS = {"sh", "bash", "shell"}
MARKER = re.compile(r"<!--\s*docs-test:\s*([\w-]+)(.*?)-->", re.S)
ATTR = re.compile(r'(\w[\w-]*)="([^"]*)"')


# ---------------------------------------------------------------------------------------------------------------
# The page: fenced blocks and their markers


class Block:
    def __init__(self, line, lang, text, markers):
        self.line = line  # 1-based line of the opening fence
        self.lang = lang
        self.text = text
        self.markers = markers  # {name: {attr: value}} of the comments right before the fence
        self.expected = None  # output block that follows (marked `output`)
        self.expected_line = None

    def first_line(self):
        for l in self.text.splitlines():
            if l.strip():
                return l.strip()
        return ""

    def is_shell(self):
        return self.lang in SHELL_LANGS

    def is_transcript(self):
        # An untagged (or `console`) block whose first line is a `$ command` is a transcript: command and output.
        return self.lang in ("", "console") and self.text.startswith("$ ")


def parse_page(text):
    """The fenced blocks of a Markdown page, each with the docs-test markers written just before it."""
    lines = text.split("\n")
    blocks = []
    pending = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = re.match(r"^(\s*)(`{3,})\s*([\w+-]*)\s*$", line)
        if fence:
            indent, ticks, lang = fence.group(1), fence.group(2), fence.group(3).lower()
            body = []
            j = i + 1
            while j < len(lines) and not re.match(r"^\s*" + ticks + r"\s*$", lines[j]):
                l = lines[j]
                body.append(l[len(indent):] if l.startswith(indent) else l.lstrip())
                j += 1
            blocks.append(Block(i + 1, lang, "\n".join(body) + "\n", pending))
            pending = {}
            i = j + 1
            continue
        comment_at = line.find("<!--")
        if comment_at >= 0:
            # A marker may span lines until -->.
            chunk = line
            k = i
            while "-->" not in chunk and k + 1 < len(lines):
                k += 1
                chunk += "\n" + lines[k]
            for m in MARKER.finditer(chunk):
                pending[m.group(1)] = dict(ATTR.findall(m.group(2)))
            i = k + 1
            continue
        if line.strip():
            pending = {}  # markers bind only to the fence that follows them
        i += 1
    return blocks


def page_marker(text, name):
    for m in MARKER.finditer(text):
        if m.group(1) == name:
            return dict(ATTR.findall(m.group(2)))
    return None


# ---------------------------------------------------------------------------------------------------------------
# Expected output: literal lines with placeholders

PLACEHOLDERS = {
    "any": r".*?",
    "int": r"-?\d+",
    "num": r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?",
    "port": r"\d{1,5}",
    "time": r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?",
    "age": r"(?:\d+[smhd])+|<unknown>",
    "id": r"[A-Za-z0-9._:/+=-]+",
    "hex": r"[0-9a-fA-F]+",
}
TOKEN = re.compile(r"\{\{(\w+|\.\.\.)\}\}")


def line_regex(line):
    out = ""
    pos = 0
    for m in TOKEN.finditer(line):
        out += literal_regex(line[pos:m.start()])
        name = m.group(1)
        if name not in PLACEHOLDERS:
            raise ValueError("unknown placeholder {{%s}}" % name)
        out += "(?:" + PLACEHOLDERS[name] + ")"
        pos = m.end()
    return out + literal_regex(line[pos:])


def literal_regex(s):
    # Runs of two or more spaces (table columns) match any run of spaces: column widths follow the values.
    parts = re.split(r"( {2,})", s)
    return "".join(" +" if p.startswith("  ") and not p.strip() else re.escape(p) for p in parts)


def normalize(text):
    lines = [l.rstrip() for l in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return lines


def output_matches(expected, actual):
    exp = normalize(expected)
    act = normalize(actual)
    pattern = ""
    for l in exp:
        if l.strip() == "{{...}}":
            pattern += r"(?:[^\n]*\n)*?"
        else:
            pattern += line_regex(l) + r"\n"
    return re.fullmatch(pattern, "\n".join(act) + "\n", re.S) is not None


def diff(expected, actual, before="expected (the page)", after="actual"):
    exp, act = normalize(expected), normalize(actual)
    if exp and exp[0].strip() == "{{...}}" and "{{...}}" not in "".join(exp[1:]):
        # The page shows the end of the output: compare that end, not the lines the placeholder stands for.
        act = ["{{...}}"] + act[max(0, len(act) - (len(exp) - 1)):]
    return "\n".join(difflib.unified_diff(exp, act, before, after, lineterm=""))


def parse_transcript(text):
    """`$ command` lines (with `\\` continuations) and the output lines under each."""
    steps = []
    lines = text.rstrip("\n").split("\n")
    i = 0
    while i < len(lines):
        if lines[i].startswith("$ "):
            cmd = lines[i][2:]
            while cmd.endswith("\\") and i + 1 < len(lines):
                i += 1
                cmd += "\n" + lines[i]
            out = []
            i += 1
            while i < len(lines) and not lines[i].startswith("$ "):
                out.append(lines[i])
                i += 1
            steps.append((cmd + "\n", "\n".join(out) + "\n"))
        else:
            i += 1
    return steps


# ---------------------------------------------------------------------------------------------------------------
# The fixture: dnsmasq, origins, dfproxy


class Fixture:
    def __init__(self, args, spec, root):
        self.args = args
        self.spec = spec
        self.root = root  # the page's temporary directory
        self.procs = []
        self.home = os.path.join(root, "home")
        self.work = os.path.join(root, "work")

    def log_path(self, name):
        return os.path.join(self.root, name + ".log")

    def spawn(self, name, argv, env=None):
        log = open(self.log_path(name), "wb")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                             cwd=self.work, start_new_session=True, preexec_fn=die_with_runner)
        self.procs.append((name, p))
        return p

    def tail(self, name, n=40):
        try:
            with open(self.log_path(name), errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def start(self):
        os.makedirs(self.home)
        os.makedirs(self.work)
        self.make_home()
        self.make_work_dir()
        self.start_dns()
        for i, origin in enumerate(self.spec.get("origins", [])):
            self.start_origin(i, origin)
        for address in self.spec.get("blackholes", []):
            self.start_blackhole(address)
        if self.spec.get("dfproxy", True):
            self.start_dfproxy()

    def make_home(self):
        # curl shows no progress meter on a terminal; the blocks' output goes to a file, where it would.
        with open(os.path.join(self.home, ".curlrc"), "w") as f:
            f.write("no-progress-meter\n")

    def make_work_dir(self):
        # The user's shell is in a clone of the repository: its top-level entries are here as links (scripts,
        # resources, ...), and build/release is the build under test. Files the examples write stay here.
        for entry in os.listdir(self.args.source):
            if entry in (".git", "build"):
                continue
            os.symlink(os.path.join(self.args.source, entry), os.path.join(self.work, entry))
        os.makedirs(os.path.join(self.work, "build"))
        os.symlink(self.args.build, os.path.join(self.work, "build", "release"))

    def start_dns(self):
        hosts = os.path.join(self.root, "hosts")
        with open(hosts, "w") as f:
            for name, addresses in self.spec.get("hosts", {}).items():
                for a in addresses:
                    f.write("%s %s\n" % (a, name))
        resolv = os.path.join(self.root, "resolv.conf")
        with open(resolv, "w") as f:
            f.write("nameserver 127.0.0.1\noptions timeout:2 attempts:1\n")
        # Everything in this namespace (dfproxy's system resolver, curl) asks our dnsmasq, never the machine's.
        subprocess.run(["mount", "--bind", resolv, "/etc/resolv.conf"], check=True)
        argv = [shutil.which("dnsmasq") or "/usr/sbin/dnsmasq", "--keep-in-foreground", "--no-daemon",
                "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--bind-interfaces",
                "--listen-address=127.0.0.1", "--port=53", "--local-ttl=60", "--addn-hosts=" + hosts,
                "--pid-file=", "--user=root", "--log-queries", "--log-facility=" + self.log_path("dnsmasq-queries")]
        for domain in self.spec.get("localDomains", ["test"]):
            argv.append("--local=/%s/" % domain)
        self.spawn("dnsmasq", argv)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.port_open("127.0.0.1", 53, udp=True):
                return
            time.sleep(0.1)
        raise RuntimeError("dnsmasq did not start:\n" + self.tail("dnsmasq"))

    @staticmethod
    def port_open(host, port, udp=False):
        import socket
        if udp:
            # A DNS query for localhost. over UDP: any answer means dnsmasq is up.
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(0.3)
            try:
                q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x04test\x00\x00\x01\x00\x01"
                s.sendto(q, (host, port))
                s.recvfrom(512)
                return True
            except OSError:
                return False
            finally:
                s.close()
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            return False

    def start_origin(self, i, origin):
        binary = os.path.join(self.args.build, "tests", "fixtures", "dfproxy-test-origin")
        argv = [binary]
        for l in origin["listen"]:
            argv += ["--listen", l]
        if origin.get("title"):
            argv += ["--title", origin["title"]]
        if origin.get("tls"):
            cert, key = self.make_cert(origin.get("names", ["localhost"]))
            argv += ["--tls-cert", cert, "--tls-key", key]
        self.spawn("origin%d" % i, argv)
        for l in origin["listen"]:
            host, port = l.rsplit(":", 1)
            if not wait_until(lambda: self.port_open(host.strip("[]"), int(port)), 10):
                raise RuntimeError("origin %s did not start:\n%s" % (l, self.tail("origin%d" % i)))

    def start_blackhole(self, address):
        """An address whose SYNs go unanswered (no dummy interfaces or iptables needed): a listener with a backlog
        of one that never accepts, filled by connections of our own; Linux then drops every further SYN, so a
        connect there times out as to a host that never answers."""
        import socket
        host, port = address.rsplit(":", 1)
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, int(port)))
        listener.listen(0)
        self.sockets = getattr(self, "sockets", []) + [listener]
        for _ in range(3):
            c = socket.socket()
            c.setblocking(False)
            try:
                c.connect((host, int(port)))
            except BlockingIOError:
                pass
            self.sockets.append(c)

    def make_cert(self, names):
        cert = os.path.join(self.root, "origin-cert.pem")
        key = os.path.join(self.root, "origin-key.pem")
        san = ",".join("DNS:" + n for n in names)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=" + names[0],
                        "-addext", "subjectAltName=" + san], check=True, capture_output=True)
        return cert, key

    def env(self):
        env = {k: v for k, v in os.environ.items()
               if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
               and not k.startswith(("XDG_", "DFPROXY_", "CTEST", "CCACHE"))}
        b = self.args.build
        if self.spec.get("buildOnPath", True):
            env["PATH"] = os.pathsep.join([os.path.join(b, "admin"), os.path.join(b, "service"),
                                           os.path.join(b, "gui"), env.get("PATH", "/usr/bin:/bin")])
        env["HOME"] = self.home
        env["LC_ALL"] = "C.UTF-8"
        env["TERM"] = "dumb"
        env.pop("EDITOR", None)
        env.pop("VISUAL", None)
        env.update(self.spec.get("env", {}))
        return env

    def start_dfproxy(self):
        opts = self.spec.get("dfproxy", True)
        argv = ["dfproxy"] + (opts.get("args", []) if isinstance(opts, dict) else [])
        env = self.env()
        argv[0] = os.path.join(self.args.build, "service", "dfproxy")
        self.spawn("dfproxy", argv, env)

        def ready():
            try:
                with urllib.request.urlopen("http://127.0.0.1:15000/readyz", timeout=1) as r:
                    return r.status == 200
            except Exception:
                return False

        proxy = urllib.request.ProxyHandler({})
        urllib.request.install_opener(urllib.request.build_opener(proxy))
        if not wait_until(ready, 20):
            raise RuntimeError("dfproxy did not become ready:\n" + self.tail("dfproxy"))

    def stop(self):
        for name, p in reversed(self.procs):
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


def die_with_runner():
    """In the child before exec: SIGKILL when the runner dies (a ctest timeout kills only the runner), so no
    dfproxy, dnsmasq or origin outlives its page."""
    import ctypes
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def wait_until(pred, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return pred()


# ---------------------------------------------------------------------------------------------------------------
# The page's shell session


class Session:
    """One bash that sources each block, like a terminal the user pastes the page into."""

    DONE = "__DOCS_TEST_DONE__"

    def __init__(self, fixture):
        self.fx = fixture
        self.dir = os.path.join(fixture.root, "blocks")
        os.makedirs(self.dir)
        self.n = 0
        self.bash = subprocess.Popen(["bash", "--noprofile", "--norc"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, cwd=fixture.work, env=fixture.env(),
                                     start_new_session=True, preexec_fn=die_with_runner)

    def run(self, text, timeout):
        """(output, [failed commands]) of text sourced in the session; raises TimeoutError or EOFError."""
        self.n += 1
        base = os.path.join(self.dir, "b%d" % self.n)
        with open(base + ".sh", "w") as f:
            f.write(text)
        open(base + ".err", "w").close()
        # The ERR trap sees what `set -e` would stop on (a failing simple command or pipeline end, not inside
        # `if`, `&&`, `||`), without ending the session.
        cmd = ("trap 'echo \"exit $? from: $BASH_COMMAND\" >> %s.err' ERR; source %s.sh < /dev/null > %s.out 2>&1;"
               " trap - ERR; echo %s\n" % (base, base, base, self.DONE))
        self.bash.stdin.write(cmd.encode())
        self.bash.stdin.flush()
        deadline = time.time() + timeout
        buf = b""
        while self.DONE.encode() not in buf:
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError("still running after %d s" % timeout)
            r, _, _ = select.select([self.bash.stdout], [], [], left)
            if r:
                chunk = os.read(self.bash.stdout.fileno(), 4096)
                if not chunk:
                    raise EOFError("the shell ended (did the block call `exit`?)")
                buf += chunk
        with open(base + ".out", errors="replace") as f:
            out = f.read()
        with open(base + ".err", errors="replace") as f:
            # The trap also reports the `source` line itself when the block's last command failed.
            errs = [l for l in f.read().splitlines() if l and base not in l]
        return out, errs

    def close(self):
        try:
            os.killpg(self.bash.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.bash.wait()


class SessionBroken(Exception):
    """A block timed out or ended the shell: the page's later blocks cannot run in the state they expect."""


# ---------------------------------------------------------------------------------------------------------------


def load_fixture(args, page):
    stem = os.path.splitext(os.path.basename(page))[0]
    fixtures = args.fixtures or os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
    for name in (stem + ".json", "default.json"):
        path = os.path.join(fixtures, name)
        if os.path.exists(path):
            with open(path) as f:
                return json.load(f), path
    raise RuntimeError("no fixture (tests/docs/fixtures/%s.json or default.json)" % stem)


def plan(page_text):
    """The blocks to run and the ones skipped (with their reasons); error strings for unmarked problems."""
    blocks = parse_page(page_text)
    runs, problems = [], []
    last_shell = None
    for b in blocks:
        if "output" in b.markers:
            if b.is_shell():
                problems.append("line %d: `output` marks a shell block; it marks the output block after one" % b.line)
            elif last_shell is None:
                problems.append("line %d: `output` block with no shell block before it" % b.line)
            else:
                last_shell.expected = b.text
                last_shell.expected_line = b.line
            continue
        if not (b.is_shell() or b.is_transcript()):
            continue
        skip = b.markers.get("skip")
        if skip is not None:
            if not skip.get("reason"):
                problems.append("line %d: `skip` without reason=\"...\"" % b.line)
            last_shell = None
            continue
        runs.append(b)
        last_shell = b if b.is_shell() else None
    return runs, problems


def run_page(args, page, page_text):
    runs, problems = plan(page_text)
    name = os.path.relpath(page, args.source)
    if problems:
        for p in problems:
            print("%s:%s" % (name, p))
        return 1
    if not runs:
        print("%s: no runnable shell block (all marked skip, or none)" % name)
        return 0
    spec, spec_path = load_fixture(args, page)
    root = tempfile.mkdtemp(prefix="dfproxy-docs-")
    fx = Fixture(args, spec, root)
    failures = 0
    session = None
    try:
        fx.start()
        session = Session(fx)
        timeout = spec.get("timeout", 60)
        setup = spec.get("setup")
        if setup:
            out, errs = session.run(setup, timeout)
            if errs:
                print("%s: the fixture's setup (%s) failed:\n%s\n%s" % (name, spec_path, "\n".join(errs), out))
                return 1
        snapshot = export(fx) if spec.get("checkCleanup", True) and fx.spec.get("dfproxy", True) else None
        for b in runs:
            failures += run_block(name, session, b, timeout)
        checks = spec.get("checks")
        if checks:
            out, errs = session.run(checks, timeout)
            if errs:
                failures += 1
                print("FAIL %s: the fixture's checks after the last block (%s) failed:\n  %s\n--- output ---\n%s"
                      % (name, spec_path, "\n  ".join(errs), out.rstrip()))
        if snapshot is not None:
            after = export(fx)
            if after != snapshot:
                failures += 1
                print("FAIL %s: the page's examples leave objects behind (they should clean up, or the page must "
                      "say what state it leaves):\n%s" % (name, diff(snapshot, after, "objects before the first block",
                                                                         "objects after the last block")))
    except SessionBroken as e:
        print("%s: stopped after %s: the later blocks would run in a state the page does not expect" % (name, e))
        return 1
    except RuntimeError as e:
        print("%s: the fixture did not start: %s" % (name, e))
        return 1
    finally:
        if session:
            session.close()
        fx.stop()
        if failures and "dfproxy" in dict(fx.procs):
            print("--- dfproxy log (tail) ---\n" + fx.tail("dfproxy", 30))
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print("kept " + root)
    print("%s: %d block(s) run, %d failed" % (name, len(runs), failures))
    return 1 if failures else 0


def run_block(name, session, b, timeout):
    where = "%s:%d `%s`" % (name, b.line, b.first_line())
    steps = parse_transcript(b.text) if b.is_transcript() else [(b.text, b.expected)]
    may_fail = "may-fail" in b.markers
    failed = 0
    for cmd, expected in steps:
        try:
            out, errs = session.run(cmd, timeout)
        except (TimeoutError, EOFError) as e:
            print("FAIL %s: %s" % (where, e))
            raise SessionBroken(where)
        msgs = []
        if errs and not may_fail and not b.is_transcript():
            msgs.append("a command failed:\n  " + "\n  ".join(errs))
        if expected is not None:
            try:
                ok = output_matches(expected, out)
            except ValueError as e:
                ok = False
                msgs.append(str(e))
            if not ok:
                msgs.append("the output differs from the page:\n" + diff(expected, out))
        if msgs:
            failed = 1
            print("FAIL %s\n%s\n--- output ---\n%s" % (where, "\n".join(msgs), out.rstrip()))
        elif os.environ.get("DFPROXY_DOCS_VERBOSE"):
            print("ok   %s\n%s" % (where, out.rstrip()))
        else:
            print("ok   %s" % where)
    return failed


def export(fx):
    try:
        with open(os.path.join(fx.home, ".config", "dfproxy", "admin-token")) as f:
            token = f.read().strip()
        req = urllib.request.Request("http://127.0.0.1:15000/api/v1/export?format=yaml",
                                     headers={"Authorization": "Bearer " + token})
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.read().decode()
    except Exception as e:
        return "(export failed: %s)" % e


def namespace_ids():
    return " ".join(os.readlink("/proc/self/ns/" + ns) for ns in ("net", "mnt"))


def enter_namespace(argv):
    """Re-runs this script in a network and mount namespace of its own (loopback up), or returns why it cannot."""
    if os.environ.get("DFPROXY_DOCS_NS") == "inside":
        # The fixture bind-mounts /etc/resolv.conf and binds the docs' ports: only ever in namespaces unshare made
        # for us, i.e. not the ones the runner was started in (their ids come from the runner that exec'ed us).
        outer = os.environ.get("DFPROXY_DOCS_OUTER_NS", "")
        if not outer or outer == namespace_ids():
            sys.exit("run_docs.py: refusing to run: not inside a network and mount namespace of its own")
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        return None
    ns = ["-n", "-m", "--propagation", "private"]
    if os.geteuid() != 0:
        ns = ["-r"] + ns
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "unshare (util-linux) or ip (iproute2) is not installed"
    if shutil.which("dnsmasq") is None and not os.path.exists("/usr/sbin/dnsmasq"):
        return "dnsmasq is not installed (scripts/test installs it)"
    if subprocess.run(["unshare"] + ns + ["true"], capture_output=True).returncode != 0:
        return "cannot make a network and mount namespace here (unshare %s)" % " ".join(ns)
    env = dict(os.environ, DFPROXY_DOCS_NS="inside", DFPROXY_DOCS_OUTER_NS=namespace_ids())
    os.execvpe("unshare", ["unshare"] + ns + [sys.executable, os.path.abspath(__file__)] + argv, env)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("page", help="README.md or docs/<page>.md, relative to --source")
    ap.add_argument("--source", required=True, help="the source tree")
    ap.add_argument("--build", required=True, help="the build directory (build/release)")
    ap.add_argument("--fixtures", help="the fixtures directory (default: fixtures/ beside this script)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, block outputs)")
    ap.add_argument("--list", action="store_true", help="only list the blocks and what would happen to them")
    args = ap.parse_args()
    args.source = os.path.abspath(args.source)
    args.build = os.path.abspath(args.build)
    page = os.path.join(args.source, args.page)
    with open(page) as f:
        text = f.read()
    name = args.page
    skip = page_marker(text, "page-skip")
    if skip is not None:
        print("%s: skipped: %s" % (name, skip.get("reason", "(no reason given)")))
        return SKIP if skip.get("reason") else 1
    if args.list:
        runs, problems = plan(text)
        run_lines = {r.line for r in runs}
        for b in parse_page(text):
            state = "run" if b.line in run_lines else ("skip: " + b.markers["skip"].get("reason", "")
                                             if "skip" in b.markers else "-")
            print("%s:%d [%s] %s -- %s" % (name, b.line, b.lang, b.first_line()[:70], state))
        for p in problems:
            print("problem: " + p)
        return 0
    runs, problems = plan(text)
    if not runs and not problems:
        print("%s: no runnable shell block" % name)
        return 0
    why = enter_namespace(sys.argv[1:])
    if why:
        print("%s: skipped: %s" % (name, why))
        return SKIP
    return run_page(args, page, text)


if __name__ == "__main__":
    sys.exit(main())
