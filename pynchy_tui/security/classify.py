"""Classify a shell command line for the policy engine: allow, ask or deny, and why.

``classify(command)`` parses the line with :mod:`pynchy_tui.security.shell` -- it is parsed,
not pattern-matched: pipelines, lists, subshells, substitutions, redirections, env prefixes,
wrappers (``sudo``, ``env``, ``xargs``, ``timeout`` …) and shell code in strings (``bash -c``,
``eval``, heredocs fed to ``sh``) are split into the simple commands that would run -- and
judges every one of them. Then a few rules look at how the commands combine (a download piped
into a shell, a secret read next to a network call, a file written then run). Every finding is a
:class:`Verdict`; **the riskiest one decides**: deny beats ask beats allow, and among asks the
most severe category wins (first one on a tie), in this order::

    exfiltration > obfuscation > privilege > destructive > network > package_install > unknown

What each category means and decides:

``read_only`` (allow)
    Commands that only read or print (``ls``, ``cat``, ``grep``, ``git log`` …), and the
    workspace's own test / build / lint runners (``pytest``, ``ruff``, ``make``, ``npm test``,
    ``cargo build``, ``go test``): running the project's own tooling is the agent's job.
``write`` (allow)
    Changes inside the workspace (or ``/tmp``): ``mkdir``, ``touch``, ``cp``/``mv`` between
    workspace paths, ``sed -i``, ``tee``, ``> file``, local git operations (``add``, ``commit``,
    ``checkout``, ``merge``, ``rebase`` …), running the workspace's own scripts (``./run.sh``,
    ``python tool.py``). The workspace is the agent's to change -- it is under version control
    and the sandbox confines it -- so these are allowed but labelled, so an audit can tell
    "changed files" from "only looked". Write *targets* are checked: a path outside the
    workspace and ``/tmp`` (absolute, ``~``, or climbing out with ``..``, also after ``cd``) is
    ``destructive``; a target only known at run time (``> "$OUT"``) asks too.
``destructive`` (ask)
    ``rm -r`` / ``rm -f`` / ``rm`` outside the workspace, ``find -delete``, ``shred``, ``dd``,
    ``mkfs``, ``truncate``, ``git push --force``, ``git reset --hard``, ``git clean -f``,
    ``git branch -D``, ``chmod -R`` / ``chown -R``, writes outside the workspace (system files
    such as ``/etc/passwd`` or ``~/.bashrc`` are named in the reason), ``kill``, ``crontab -r``.
``privilege`` (ask)
    ``sudo`` / ``su`` / ``doas`` / ``pkexec`` (whatever they wrap is classified too), setuid
    ``chmod``, ``chown root``, ``mount``, ``systemctl``, firewall and user management, the
    container engine (``docker`` can act as root on the host), scheduling (``crontab``, ``at``).
``network`` (ask)
    ``curl``, ``wget``, ``nc``, ``ssh``/``scp``/``rsync`` to a remote, ``git push``/``pull``/
    ``fetch``/``clone``, ``/dev/tcp`` redirections, DNS and ping tools, cloud CLIs, interpreter
    one-liners that open sockets or HTTP connections, ``pip download``.
``package_install`` (ask)
    ``pip install``, ``uv add``/``uv pip install``, ``poetry add``, ``npm``/``yarn``/``pnpm``/
    ``bun`` install, ``npx``/``uvx`` (they fetch and run packages), ``gem``, ``cargo install``,
    ``go install``/``get``, system package managers, ``make install``.
``exfiltration`` (ask)
    A secret-looking file (``~/.ssh/id_*``, ``.env``, ``*.pem``, credentials, ``*token*`` …) or
    the environment (``env``, ``printenv``) read in the same command line as a network sink --
    piped into it, uploaded by it (``curl -d @.env``, ``scp key host:``), or just alongside it --
    and packed or encoded files streamed into one (``tar c . | nc``). Reading a credential store
    outside the workspace (``cat ~/.ssh/id_rsa``, ``~/.aws/credentials``) asks on its own: its
    contents would leave the sandbox in the conversation.
``obfuscation`` (ask)
    Code this check can't see: anything piped into a shell or interpreter (``curl … | sh``,
    ``base64 -d <<< … | bash``), ``eval``, a command name computed at run time (``$(…) args``),
    ``bash -c "$(…)"``, scripts written or downloaded and then run or sourced in the same line,
    ``chmod +x x && ./x``, ``python -c`` with ``exec``/``eval``/``__import__``/``subprocess``,
    input turned into code (``xargs sh -c '{}'``), ``LD_PRELOAD``-style injection, git hooks and
    command-running git config.
``forbidden`` (deny) -- deliberately short
    ``rm -r`` of ``/``, ``/*``, ``~``, ``~/*`` or ``/home/<user>`` (any flags and spelling:
    ``--no-preserve-root``, ``$HOME``, ``r\\m``, ``$'\\x72m'``, a variable, ``cd / && rm -rf *``),
    fork bombs, ``mkfs`` or ``dd of=`` or a redirection onto a disk device (``/dev/sd*``,
    ``/dev/nvme*`` …), ``chmod -R``/``chown -R`` of ``/``. A deny needs certainty: a relative
    path only reaches ``/`` given an assumption about where the line starts (``cd .. && rm -rf
    *``, ``rm -rf ../../..``), so those ask as destructive instead.
``unknown``
    A line that doesn't parse asks (``shell.unparseable``): bash would refuse it, and a
    misparse must never turn into an allow.

**Unknown commands ask** (rule ``shell.unknown_command``). The issue suggested allowing them
unless the shape is risky; a security reviewer would object that this makes every gap in the
tables a silent bypass -- ``terraform destroy``, ``aws s3 rm``, ``gh repo delete``, a
``shred`` clone under another name -- since a program's *name* says nothing about what it does.
So the tables are generous (common read-only tools, runners, compilers, package managers), and
what is in none of them asks, once, with a reason naming it. What the workspace holds is treated
as workspace work instead: a program run by path inside the workspace (``./build.sh``,
``.venv/bin/tool``, ``scripts/x``), ``python script.py``, ``node app.js``, ``make``, ``npm run``
are ``write`` (allow), unless the same line wrote or downloaded that file first (obfuscation).
Functions defined in the same line are allowed when called; their bodies are classified.

Paths are judged relative to the workspace (``/workspace`` unless ``classify`` is told
otherwise), following ``cd`` within the line; ``$HOME`` reads as ``~``. The parser substitutes
variables assigned earlier in the line, so ``d=/; rm -rf $d`` is seen for what it is.

Known limits: this is static analysis of one line. It can't see what a workspace script, a
Makefile target or an installed program will do, values coming from the environment or from
earlier commands, or aliases defined in earlier calls; interpreter code is inspected with
heuristics (names of network, process, eval and file-deletion APIs), not parsed.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from pynchy_tui.security.shell import (
    SHELLS,
    ParseError,
    SimpleCommand,
    command_name,
    home_path,
    shell_invocation,
    split,
)

__all__ = ["ASK_SEVERITY", "CATEGORIES", "Verdict", "classify", "combine", "findings"]

Decision = Literal["allow", "ask", "deny"]

CATEGORIES = (
    "read_only",
    "write",
    "destructive",
    "privilege",
    "network",
    "package_install",
    "exfiltration",
    "obfuscation",
    "forbidden",
    "unknown",
)
ASK_SEVERITY = {
    "exfiltration": 6,
    "obfuscation": 5,
    "privilege": 4,
    "destructive": 3,
    "network": 2,
    "package_install": 1,
    "unknown": 0,
}
ALLOW_SEVERITY = {"write": 2, "unknown": 1, "read_only": 0}
_DECISION_RANK = {"deny": 2, "ask": 1, "allow": 0}


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    reason: str  # a sentence a person understands: what is risky and why
    rule_id: str  # stable id of the rule that decided, e.g. "shell.destructive.rm_recursive"
    category: str  # one of CATEGORIES
    part: str  # the sub-command (text) that decided


def classify(command: str, workspace: str = "/workspace") -> Verdict:
    """The verdict for a shell command line: the riskiest of its parts decides."""
    return combine(findings(command, workspace))


def findings(command: str, workspace: str = "/workspace") -> list[Verdict]:
    """Every verdict the rules produced for ``command``, in the order its parts would run."""
    return _Analysis(command, workspace).run()


def combine(verdicts: list[Verdict]) -> Verdict:
    """deny > ask > allow; among asks the most severe category, the first one on a tie."""
    if not verdicts:
        return Verdict("allow", "The command line runs nothing.", "shell.empty", "read_only", "")
    best = verdicts[0]
    for v in verdicts[1:]:
        if _rank(v) > _rank(best):
            best = v
    return best


def _rank(v: Verdict) -> tuple[int, int]:
    table = ASK_SEVERITY if v.decision == "ask" else ALLOW_SEVERITY
    return (_DECISION_RANK[v.decision], table.get(v.category, 0))


# --------------------------------------------------------------------------- tables


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_READ_ONLY = _words(
    """
    ls ll la dir vdir cat tac bat batcat head tail less more most grep egrep fgrep zgrep rg ag ack
    fd fdfind wc cut tr diff cmp comm stat file pwd echo printf which type whereis whatis apropos
    date du df tree basename dirname realpath readlink seq yes true false test [ [[ (( expr bc dc
    column paste join nl fold fmt rev md5sum sha1sum sha224sum sha256sum sha384sum sha512sum
    b2sum cksum sum od hexdump strings nm objdump readelf ldd size uname whoami id groups ps
    pgrep pstree top htop free uptime lscpu lsblk lsusb lspci lsmod lsof nproc locale sleep wait
    jq yq xmllint tput clear cal history jobs hash help man info getconf arch lsb_release ulimit
    umask shopt cd pushd popd dirs unset unalias read mapfile readarray shift return exit break
    continue : times getopts let logname tty w who last dmesg journalctl ss netstat zcat zless
    zmore bzcat xzcat zstdcat iconv numfmt shuf expand unexpand pr tsort factor printenv caller
    compgen complete disown bg fg colordiff sdiff ncdu lsattr getfacl namei mimetype exiftool
    pdftotext jc gron vmstat iostat mpstat pkg-config nvidia-smi watch trap alias exec command
    builtin nohup time nice timeout stdbuf setsid ionice busybox chronic unbuffer xargs env
    local declare typeset readonly export set look envsubst stty sync
    """
)
_RUNNERS = _words(
    """
    pytest py.test tox nox ruff mypy pyright pylint flake8 black isort autopep8 yapf bandit
    coverage tsc eslint prettier jest vitest mocha ava biome oxlint stylelint cmake ctest ninja
    meson bazel bazelisk buck scons gmake mvn gradle ant sbt lein javac java kotlinc kotlin
    scalac gcc g++ cc c++ clang clang++ ld as ar ranlib rustc rustfmt cargo-clippy swift swiftc
    zig ghc runghc cabal stack dune ocaml elixir erl erlc rebar3 rspec rake rubocop phpunit
    phpstan psalm shellcheck shfmt hadolint yamllint markdownlint actionlint golangci-lint gofmt
    goimports staticcheck clang-format clang-tidy cppcheck valgrind sphinx-build pdoc doxygen
    protoc buf flatc hugo jekyll tsx ts-node lint-imports import-linter pre-commit tmux-test
    """
)
_EDITORS = _words("vi vim nvim nano emacs micro ed ex")
_WORKSPACE_WRITERS = _words("patch split csplit strip ctags etags")
_NETWORK_TOOLS = {
    "ssh": "connects to another machine over SSH",
    "sftp": "transfers files with another machine",
    "ftp": "transfers files over FTP",
    "lftp": "transfers files with a remote server",
    "tftp": "transfers files over TFTP",
    "telnet": "opens a raw network connection",
    "ping": "sends packets to another host",
    "ping6": "sends packets to another host",
    "traceroute": "probes the network path to a host",
    "tracepath": "probes the network path to a host",
    "mtr": "probes the network path to a host",
    "dig": "queries DNS servers",
    "nslookup": "queries DNS servers",
    "host": "queries DNS servers",
    "whois": "queries a WHOIS server",
    "nmap": "scans hosts on the network",
    "arping": "sends packets on the local network",
    "ssh-keyscan": "contacts SSH servers",
    "ssh-copy-id": "installs a key on another machine",
    "aria2c": "downloads files",
    "http": "makes HTTP requests",
    "https": "makes HTTP requests",
    "xh": "makes HTTP requests",
    "lynx": "browses the web",
    "w3m": "browses the web",
    "grpcurl": "calls a remote gRPC service",
    "websocat": "opens a WebSocket connection",
    "wscat": "opens a WebSocket connection",
    "gh": "acts on GitHub with your account",
    "glab": "acts on GitLab with your account",
    "hub": "acts on GitHub with your account",
    "aws": "acts on an AWS account",
    "gcloud": "acts on a Google Cloud account",
    "gsutil": "acts on Google Cloud storage",
    "az": "acts on an Azure account",
    "kubectl": "acts on a Kubernetes cluster",
    "helm": "acts on a Kubernetes cluster",
    "terraform": "changes or reads remote infrastructure",
    "tofu": "changes or reads remote infrastructure",
    "pulumi": "changes or reads remote infrastructure",
    "heroku": "acts on a Heroku account",
    "fly": "acts on a Fly.io account",
    "flyctl": "acts on a Fly.io account",
    "vercel": "acts on a Vercel account",
    "netlify": "acts on a Netlify account",
    "doctl": "acts on a DigitalOcean account",
    "ansible": "runs commands on remote machines",
    "ansible-playbook": "runs commands on remote machines",
    "vagrant": "manages virtual machines",
    "twine": "uploads packages to a package index",
    "s3cmd": "transfers files with S3",
    "rclone": "transfers files with cloud storage",
    "mail": "sends email",
    "mailx": "sends email",
    "sendmail": "sends email",
    "mutt": "sends email",
    "msmtp": "sends email",
    "swaks": "sends email",
    "ngrok": "exposes a local port to the internet",
    "cloudflared": "exposes local services to the internet",
    "tailscale": "changes the machine's VPN",
    "openvpn": "connects a VPN",
    "wg": "configures a WireGuard VPN",
}
_RAW_SOCKETS = frozenset({"nc", "ncat", "netcat", "socat"})
_PRIVILEGE_TOOLS = {
    "su": "switches to another user (root by default)",
    "sudo": "runs a command as root",
    "sudoedit": "edits files as root",
    "doas": "runs a command as root",
    "pkexec": "runs a command as root",
    "run0": "runs a command as root",
    "umount": "unmounts file systems",
    "modprobe": "loads or unloads kernel modules",
    "insmod": "loads a kernel module",
    "rmmod": "unloads a kernel module",
    "iptables": "changes the firewall",
    "ip6tables": "changes the firewall",
    "nft": "changes the firewall",
    "ufw": "changes the firewall",
    "firewall-cmd": "changes the firewall",
    "useradd": "creates a user account",
    "usermod": "changes a user account",
    "userdel": "deletes a user account",
    "adduser": "creates a user account",
    "deluser": "deletes a user account",
    "groupadd": "creates a group",
    "groupmod": "changes a group",
    "groupdel": "deletes a group",
    "addgroup": "creates a group",
    "delgroup": "deletes a group",
    "gpasswd": "changes group membership",
    "passwd": "changes a password",
    "chpasswd": "changes passwords",
    "chsh": "changes a login shell",
    "chfn": "changes user information",
    "visudo": "edits who may use sudo",
    "setcap": "grants file capabilities",
    "setfacl": "changes file access control lists",
    "chroot": "runs a command in another root directory",
    "nsenter": "enters other processes' namespaces",
    "unshare": "creates new namespaces",
    "capsh": "changes process capabilities",
    "shutdown": "shuts the machine down",
    "reboot": "reboots the machine",
    "halt": "halts the machine",
    "poweroff": "powers the machine off",
    "init": "changes the system run level",
    "telinit": "changes the system run level",
    "swapon": "changes swap devices",
    "swapoff": "changes swap devices",
    "losetup": "attaches loop devices",
    "chattr": "changes file attributes",
    "setenforce": "changes SELinux enforcement",
    "launchctl": "manages system services",
    "at": "schedules commands to run later, outside this session",
    "batch": "schedules commands to run later, outside this session",
    "ldconfig": "changes the shared library cache",
    "update-alternatives": "changes system-wide default programs",
    "cryptsetup": "manages encrypted disks",
    "dmsetup": "manages device-mapper devices",
    "lvcreate": "manages logical volumes",
    "lvremove": "manages logical volumes",
    "vgcreate": "manages volume groups",
    "pvcreate": "initializes physical volumes",
}
_DESTRUCTIVE_TOOLS = {
    "shred": "overwrites files so they can't be recovered",
    "wipe": "overwrites files so they can't be recovered",
    "srm": "overwrites files so they can't be recovered",
    "wipefs": "erases file-system signatures from a device",
    "fdisk": "changes disk partitions",
    "sfdisk": "changes disk partitions",
    "cfdisk": "changes disk partitions",
    "parted": "changes disk partitions",
    "gdisk": "changes disk partitions",
    "sgdisk": "changes disk partitions",
    "pkill": "stops running processes",
    "killall": "stops running processes",
    "xkill": "stops running programs",
    "skill": "stops running processes",
}
_SYSTEM_PACKAGERS = _words(
    """
    apt apt-get aptitude dnf yum microdnf apk brew pacman yay paru zypper snap flatpak port
    pkg nix-env emerge xbps-install dpkg rpm choco winget scoop cpan cpanm luarocks opam
    rustup pyenv nvm asdf sdk mise
    """
)
_PACKAGER_READ_VERBS = _words(
    """
    list search show info policy depends rdepends madison doctor outdated config which
    --version -v -V version help --help -l -q -Q -Qi -Ql -Ss -Si -s status query files
    show-versions ls current versions installed
    """
)
_INJECT_VARS = _words(
    """
    LD_PRELOAD LD_LIBRARY_PATH LD_AUDIT DYLD_INSERT_LIBRARIES DYLD_LIBRARY_PATH BASH_ENV ENV
    PROMPT_COMMAND GIT_SSH_COMMAND GIT_SSH GIT_EXTERNAL_DIFF GIT_ASKPASS SSH_ASKPASS PERL5OPT
    NODE_OPTIONS RUBYOPT GIT_CONFIG_PARAMETERS GIT_PROXY_COMMAND
    """
)
_GIT_READ = _words(
    """
    status log diff show rev-parse ls-files ls-tree blame grep shortlog describe cat-file
    whatchanged rev-list name-rev merge-base show-ref for-each-ref count-objects fsck help
    version check-ignore check-attr check-ref-format var cherry range-diff diff-tree
    diff-files diff-index annotate show-branch verify-commit verify-tag difftool
    """
)
_GIT_WRITE = _words(
    """
    add commit checkout switch restore merge rebase cherry-pick revert am apply init mv rm tag
    notes bisect gc prune repack maintenance sparse-checkout worktree reset stash branch config
    remote format-patch archive clean update-index update-ref symbolic-ref commit-tree
    write-tree read-tree hash-object mktag mktree pack-refs replace rerere submodule reflog
    filter-branch filter-repo lfs mergetool citool gui
    """
)
_GIT_EXEC_KEYS = re.compile(
    r"^(core\.(sshcommand|pager|editor|fsmonitor|hookspath|askpass|gitproxy)|diff\.external"
    r"|sequence\.editor|credential\.helper|gpg\.program|gpg\.\w+\.program"
    r"|uploadpack\.packobjectshook|alias\..*|filter\..*\.(clean|smudge|process)"
    r"|diff\..*\.textconv|merge\..*\.driver|pager\..*|protocol\.ext\.allow)$"
)
_PY_RUNNER_MODULES = _words(
    """
    pytest unittest mypy ruff black isort flake8 pylint coverage doctest compileall py_compile
    json.tool timeit tokenize ast dis pydoc site platform sysconfig tabnanny trace cProfile
    profile pdb build tox nox pyright bandit pre_commit sphinx mkdocs calendar this pstats
    pyclbr pickletools filecmp difflib uuid base64 zipfile tarfile gzip importlib.metadata
    """
)
_PY_NETWORK_MODULES = _words(
    "http.server smtpd smtplib ftplib telnetlib urllib.request webbrowser xmlrpc.server "
    "aiosmtpd http.client wsgiref.simple_server"
)
_INTERPRETERS = frozenset({"python", "pypy", "perl", "ruby", "node", "nodejs", "php", "lua"})
_LANG = {
    "python": "Python",
    "pypy": "Python",
    "perl": "Perl",
    "ruby": "Ruby",
    "node": "JavaScript",
    "nodejs": "JavaScript",
    "php": "PHP",
    "lua": "Lua",
}

# --- interpreter code heuristics (the code is inspected, not parsed)
_NET_CODE = re.compile(
    r"\b(socket|urllib\d?|urlopen|requests|http\.client|httplib|httpx|aiohttp|ftplib|smtplib|"
    r"telnetlib|paramiko|websockets?|pycurl|IO::Socket|LWP|HTTP::Tiny|Net::\w+|TCPSocket|"
    r"UDPSocket|open-uri|XMLHttpRequest|fsockopen|curl_exec|axios|got)\b|\bfetch\s*\(|"
    r"require\s*\(\s*['\"](?:node:)?(?:https?|net|dgram|tls|http2)['\"]\s*\)|"
    r"from\s+['\"](?:node:)?(?:https?|net|dgram|tls)['\"]"
)
_EXEC_CODE = re.compile(
    r"\b(subprocess|os\.system|os\.popen|os\.exec\w*|os\.spawn\w*|pty\.spawn|commands\.getoutput|"
    r"child_process|execSync|spawnSync|execFileSync|IO\.popen|Open3|shell_exec|passthru|"
    r"proc_open|popen|Kernel\.system|io\.popen|os\.execute|os\.posix_spawn\w*|os\.fork\w*|fork|"
    r"process\.binding)\b|\bsystem\s*\(|\b(system|exec)\s+[\"'$@]|`[^`]+`|"
    r"\bfrom\s+os\s+import\s+[^;\n]*\b(system|popen|exec\w*|spawn\w*|fork|posix_spawn\w*)\b|"
    r"\bimport\s+(subprocess|pty)\b|\bqx\s*[/({]|%x\s*[({]"
)
_EVAL_CODE = re.compile(
    r"\b(exec|eval|compile|execfile)\s*\(|__import__|\bimportlib\b|b64decode|a2b_base64|"
    r"codecs\.decode|marshal\.loads|pickle\.loads|\bnew\s+Function\s*\(|\bFunction\s*\(|"
    r"\bvm\.run\w*|\beval\s+[\"'$]|\bgetattr\s*\(\s*__builtins__"
)
_DELETE_CODE = re.compile(
    r"\b(shutil\.rmtree|rmtree|os\.remove|os\.unlink|os\.rmdir|os\.removedirs|send2trash|"
    r"fs\.(?:rm|rmdir|unlink)(?:Sync)?|rmSync|unlinkSync|rimraf|FileUtils\.rm\w*|File\.delete|"
    r"unlink)\s*\(|\.unlink\s*\(|\.rmdir\s*\(|\bunlink\s+['\"$]"
)
_WRITE_API = re.compile(
    r"shutil\.(copy\w*|move|copytree)|os\.(rename|replace|symlink|link|chmod|chown|truncate)|"
    r"\.write_(text|bytes)|\b(write|append)File(Sync)?\b|File\.write|\bcopyFile(Sync)?\b|"
    r"\brename(Sync)?\s*\(|\bsymlink(Sync)?\s*\("
)
_ENV_CODE = re.compile(r"\bos\.environ\b|\bgetenv\b|\bprocess\.env\b|\bENV\s*\[|%ENV|\$ENV\{")
_PY_OPEN_WRITE = re.compile(
    r"\bopen\s*\(\s*(['\"])([^'\"]+)\1\s*,\s*(?:mode\s*=\s*)?(['\"])([^'\"]*[wax+][^'\"]*)\3"
)
_CODE_WRITE_PATH = re.compile(
    r"(?:Path\s*\(\s*(['\"])([^'\"]+)\1\s*\)\s*\.\s*write_(?:text|bytes)"
    r"|(?:writeFileSync|appendFileSync|writeFile|appendFile)\s*\(\s*(['\"])([^'\"]+)\3"
    r"|File\.(?:write|open)\s*\(\s*(['\"])([^'\"]+)\5(?:\s*,\s*['\"][wa])?"
    r"|\bopen\s*\(?\s*(?:my\s+)?\$?\w+\s*,\s*['\"](?:>>?|\+>)\s*([^'\"]+)['\"])"
)
_STRING_LITERAL = re.compile(r"(['\"])([^'\"\n]{1,200})\1")

# --- paths
_NULL_DEVICES = frozenset(
    {
        "/dev/null",
        "/dev/stdout",
        "/dev/stderr",
        "/dev/stdin",
        "/dev/tty",
        "/dev/zero",
        "/dev/random",
        "/dev/urandom",
        "/dev/full",
    }
)
_DISK = re.compile(
    r"^/dev/(sd[a-z]+\d*|hd[a-z]+\d*|vd[a-z]+\d*|xvd[a-z]+\d*|nvme\d+(n\d+(p\d+)?)?|"
    r"mmcblk\d+(p\d+)?|disk\d+(s\d+)?|rdisk\d+|mapper/.+|dm-\d+|md\d+|loop\d+|root)$"
)
_SECRET = re.compile(
    r"""(?ix)
      (^|/)\.env(\.(?!example$|sample$|template$|dist$|defaults?$|schema$)[^/]+)?$
    | \.(pem|key|p12|pfx|jks|keystore|kdbx|ppk|der|ovpn)$
    | (^|/)id_(rsa|dsa|ecdsa|ed25519)[^/]*$
    | (^|/)\.ssh(/|$)
    | (^|/)\.aws(/(credentials|config))?/?$
    | (^|/)\.(netrc|git-credentials|npmrc|pypirc|pgpass|vault-token|boto)$
    | (^|/)\.docker/config\.json$ | (^|/)\.kube/config$ | (^|/)\.gnupg(/|$)
    | (^|/)\.password-store(/|$) | (^|/)\.config/(gh/hosts\.yml|gcloud/)
    | (^|/)credentials?(\.[a-z]+)?$
    | (^|/)[^/]*(token|secret|password|passwd\.txt|apikey|api_key)[^/]*$
    | (^|/)service[-_]?account[^/]*\.json$
    | ^/etc/(shadow|gshadow|sudoers)
    """
)
_CREDENTIAL_STORE = re.compile(
    r"""(?x)
    ^(~|/root|/home/[^/]+)/(
        \.ssh/?$ | \.ssh/(id_[^/]*|[^/]*_key)$ | \.aws/?$ | \.aws/credentials$ | \.gnupg/?$
      | \.netrc$ | \.git-credentials$
      | \.docker/config\.json$ | \.kube/config$ | \.gnupg/.+ | \.config/gh/hosts\.yml$
      | \.pypirc$ | \.npmrc$ | \.pgpass$ | \.password-store/.+ | \.vault-token$
      | \.config/gcloud/.+ )
    | ^/etc/(shadow|gshadow)$
    """
)
_SENSITIVE = [
    (re.compile(r"^/etc/(passwd|group)$"), "the system's list of user accounts"),
    (re.compile(r"^/etc/(shadow|gshadow)$"), "the system's password hashes"),
    (re.compile(r"^/etc/sudoers(\.d/.*)?$"), "the rules for who may use sudo"),
    (re.compile(r"^~/\.ssh/authorized_keys2?$"), "the keys allowed to log in over SSH"),
    (re.compile(r"^(~|/root)/\.ssh(/|$)"), "SSH keys and settings"),
    (
        re.compile(
            r"^(~|/root)/\.(bashrc|bash_profile|bash_login|profile|zshrc|zprofile|zshenv"
            r"|zlogin|login|bash_logout)$"
        ),
        "a shell startup file that runs in every new shell",
    ),
    (
        re.compile(r"^/etc/(profile|bash\.bashrc|zshrc|environment)(\.d/.*)?$"),
        "system-wide shell startup",
    ),
    (re.compile(r"^/etc/(cron|crontab|anacrontab)|^/var/spool/cron"), "scheduled jobs"),
    (re.compile(r"^/etc/ld\.so\.preload$"), "the libraries loaded into every program"),
    (re.compile(r"^/etc/hosts$"), "how host names resolve"),
    (re.compile(r"^/etc/(systemd|init\.d|init)/|^~/\.config/systemd/"), "system services"),
    (re.compile(r"^~/\.(gitconfig|config/git/)"), "your global git settings"),
    (
        re.compile(r"^~/\.(aws|kube|docker|gnupg|netrc|git-credentials|pypirc|npmrc)"),
        "stored credentials",
    ),
    (re.compile(r"^/(usr|bin|sbin|lib|lib32|lib64|boot|opt)(/|$)"), "installed system files"),
]
_GIT_HOOK = re.compile(r"(^|/)\.git/hooks/[^/]+$")
_CHMOD_MODE = re.compile(r"[ugoa]*([-+=][rwxXstugo]*)+(,[ugoa]*([-+=][rwxXstugo]*)+)*|[0-7]{1,4}")
_READERS = _words(
    """
    cat tac bat batcat head tail less more most nl od hexdump xxd strings base64 base32 basenc
    jq yq sort uniq cut tr paste wc diff cmp comm md5sum sha1sum sha224sum sha256sum sha384sum
    sha512sum cksum b2sum iconv fold fmt rev column gpg zcat bzcat xzcat zstdcat gzip bzip2 xz
    zstd openssl ssh-keygen xclip pbcopy
    """
)


def _q(text: str, limit: int = 60) -> str:
    t = " ".join(text.split())
    if len(t) > limit:
        t = t[: limit - 1] + "…"
    return f"`{t}`"


def _inside(path: str, root: str) -> bool:
    return root == "/" or path == root or path.startswith(root.rstrip("/") + "/")


def _norm(path: str) -> str:
    if path.startswith("~"):
        return home_path(path)
    return posixpath.normpath(re.sub("/+", "/", path)) if path else path


def _kind(value: str) -> str:
    return "param" if ("$" in value or "`" in value) else "static"


def _upstream(a: SimpleCommand, b: SimpleCommand) -> bool:
    """Does ``a``'s output flow into ``b`` through a pipeline?"""
    stages = dict(a.pipes)
    return any(pid in stages and stages[pid] < stage for pid, stage in b.pipes)


class _Args:
    """A command's options and operands, parsed the getopt way. Option values are kept per
    option name (``d`` for ``-d x``, ``data`` for ``--data=x``)."""

    def __init__(
        self,
        c: SimpleCommand,
        short_arg: str = "",
        long_arg: frozenset[str] | set[str] = frozenset(),
        start: int = 1,
        stop_at_operand: bool = False,
    ) -> None:
        self.flags: set[str] = set()
        self.values: dict[str, list[str]] = {}
        self.operands: list[tuple[str, str]] = []
        argv, kinds = c.argv, c.kinds
        i = start
        while i < len(argv):
            a, k = argv[i], kinds[i]
            if a == "--":
                self.operands += list(zip(argv[i + 1 :], kinds[i + 1 :], strict=True))
                break
            if a.startswith("--") and len(a) > 2 and k == "static":
                name, eq, val = a[2:].partition("=")
                if eq:
                    self.values.setdefault(name, []).append(val)
                elif name in long_arg and i + 1 < len(argv):
                    self.values.setdefault(name, []).append(argv[i + 1])
                    i += 1
                else:
                    self.flags.add(name)
            elif a.startswith("-") and len(a) > 1 and k == "static":
                rest = a[1:]
                for j, ch in enumerate(rest):
                    if ch in short_arg:
                        val = rest[j + 1 :]
                        if not val and i + 1 < len(argv):
                            val = argv[i + 1]
                            i += 1
                        self.values.setdefault(ch, []).append(val)
                        break
                    self.flags.add(ch)
            else:
                self.operands.append((a, k))
                if stop_at_operand:
                    self.operands += list(zip(argv[i + 1 :], kinds[i + 1 :], strict=True))
                    break
            i += 1

    def has(self, *names: str) -> bool:
        return any(n in self.flags or n in self.values for n in names)

    def get(self, *names: str) -> list[str]:
        out: list[str] = []
        for n in names:
            out += self.values.get(n, [])
        return out

    @property
    def ops(self) -> list[str]:
        return [a for a, _ in self.operands]


@dataclass
class _Facts:
    """What one command does, for the rules that look at how commands combine."""

    secrets: list[str] = field(default_factory=list)  # secret-looking files it reads or sends
    env_dump: bool = False  # it prints or reads the environment
    network: bool = False
    source: str = ""  # what it writes to stdout: download | decode | archive
    writes: dict[str, str] = field(default_factory=dict)  # path -> "writes" | "downloads" | …
    executes: list[str] = field(default_factory=list)  # paths it runs as a program or script
    stdin_code: bool = False  # a shell or interpreter that would run its stdin as code
    credentials: list[str] = field(default_factory=list)  # credential stores it reads


class _Analysis:
    def __init__(self, command: str, workspace: str) -> None:
        self.command = command
        self.ws = _norm(workspace or "/workspace")
        self.out: list[Verdict] = []
        self.items: list[tuple[SimpleCommand, _Facts]] = []
        self.functions: dict[str, str] = {}
        self.c = SimpleCommand(())
        self.f = _Facts()

    # ---------------------------------------------------------------- driver

    def run(self) -> list[Verdict]:
        try:
            flat = split(self.command)
        except ParseError as e:
            return [
                Verdict(
                    "ask",
                    f"The command can't be parsed ({e}), so what it would run can't be checked.",
                    "shell.unparseable",
                    "unknown",
                    self.command,
                )
            ]
        self.functions = flat.functions
        for err in flat.errors:
            self.out.append(
                Verdict(
                    "ask",
                    f"Part of the command can't be parsed ({err}), so what it would run can't "
                    "be checked.",
                    "shell.unparseable",
                    "unknown",
                    self.command,
                )
            )
        for c in flat.commands:
            f = _Facts()
            self.items.append((c, f))
            self.c, self.f = c, f
            self.command_verdicts()
        self.pipe_to_code()
        self.write_then_run()
        self.exfiltration()
        self.fork_bombs()
        return self.out

    def add(
        self, decision: Decision, category: str, rule: str, reason: str, part: str = ""
    ) -> None:
        self.out.append(Verdict(decision, reason, rule, category, part or self.c.text))

    def allow(self, category: str, rule: str, reason: str) -> None:
        self.add("allow", category, rule, reason)

    def ask(self, category: str, rule: str, reason: str, part: str = "") -> None:
        self.add("ask", category, rule, reason, part)

    def deny(self, rule: str, reason: str, part: str = "") -> None:
        self.add("deny", "forbidden", rule, reason, part)

    @property
    def q(self) -> str:
        return _q(self.c.text)

    # ---------------------------------------------------------------- paths

    def resolve(
        self, value: str, kind: str = "static", cwd: bool | str | None = False
    ) -> str | None:
        """Normalized absolute path (``~…`` for home), or None when it can't be known."""
        if cwd is False:
            cwd = self.c.cwd
        if kind != "static":
            value = re.split(r"[$`]", value, maxsplit=1)[0]
            if not value:
                return None
        if value.startswith("~"):
            return home_path(value)
        if value.startswith("/"):
            return _norm(value)
        if cwd is None or not isinstance(cwd, str):
            return None
        base = cwd if cwd.startswith(("/", "~")) else posixpath.join(self.ws, cwd)
        return _norm(posixpath.join(base, value))

    def certain(self, value: str) -> bool:
        """Is where ``value`` points independent of the directory the line starts in? Only
        then may a forbidden rule deny (``cd / && rm -rf *`` is certain, ``rm -rf ../..``
        depends on where the agent stands)."""
        cwd = self.c.cwd
        return value.startswith(("/", "~")) or (cwd is not None and cwd.startswith(("/", "~")))

    def zone(self, path: str | None) -> str:
        if path is None:
            return "unknown"
        if path == "~" or path.startswith("~/"):
            return "home"
        if _inside(path, self.ws):
            return "workspace"
        if any(_inside(path, t) for t in ("/tmp", "/var/tmp", "/dev/shm")):
            return "tmp"
        if path in _NULL_DEVICES or path.startswith(("/dev/fd/", "/proc/self/fd/")):
            return "null"
        if path.startswith(("/dev/tcp/", "/dev/udp/")):
            return "net"
        if _DISK.match(path):
            return "disk"
        if path.startswith("/dev/"):
            return "device"
        return "outside"

    def is_secret(self, value: str, path: str | None) -> bool:
        return any(p and not p.endswith(".pub") and _SECRET.search(p) for p in (path, value))

    def read_file(self, value: str, kind: str = "static") -> None:
        """The command reads ``value``: note secrets, ask for credential stores."""
        path = self.resolve(value, kind)
        if not self.is_secret(value, path):
            return
        if value not in self.f.secrets:
            self.f.secrets.append(value)
        if path and _CREDENTIAL_STORE.match(path) and value not in self.f.credentials:
            self.f.credentials.append(value)

    def write_target(self, value: str, kind: str, verb: str, how: str = "writes") -> None:
        """Judge one file the command writes; ``verb`` reads "{command} {verb} {file}"."""
        c = self.c
        if value.startswith(("<(", ">(")):
            return  # a pipe to a command, which is classified on its own
        path = self.resolve(value, kind)
        z = self.zone(path)
        shown = f"`{value}`"
        if z in ("workspace", "tmp") and path is not None:
            self.f.writes[path] = how
            if z == "workspace" and _GIT_HOOK.search(path):
                self.ask(
                    "obfuscation",
                    "shell.obfuscation.git_hook",
                    f"{self.q} {verb} {shown}, a git hook: it would run code on later git "
                    "commands.",
                )
            else:
                where = "inside the workspace" if z == "workspace" else "in a temporary directory"
                self.allow("write", "shell.write.workspace", f"{self.q} {verb} {shown} {where}.")
        elif z == "null":
            return
        elif z == "disk":
            self.deny(
                "shell.forbidden.disk_overwrite",
                f"{self.q} {verb} the disk device {shown} directly, destroying its data.",
            )
        elif z == "net":
            self.f.network = True
            self.ask(
                "network",
                "shell.network.dev_tcp",
                f"{self.q} opens a network connection through {shown}.",
            )
        elif z == "device":
            self.ask("destructive", "shell.destructive.device_write", f"{self.q} {verb} {shown}.")
        elif z == "unknown":
            why = (
                "after `cd` into a directory only known when it runs"
                if kind == "static"
                else "a path only known when it runs"
            )
            self.ask(
                "destructive",
                "shell.destructive.write_unknown",
                f"{self.q} {verb} {shown}, {why}, so it may be outside the workspace.",
            )
        else:
            where = "in your home directory" if z == "home" else "outside the workspace"
            if z == "outside" and not value.startswith("/") and c.cwd in (None, "."):
                where += " (it climbs out with `..`)"
            elif z == "outside" and not value.startswith("/"):
                where += f" (after `cd` to `{c.cwd}`)"
            assert path is not None
            what = next((d for rx, d in _SENSITIVE if rx.search(path)), None)
            if what:
                self.ask(
                    "destructive",
                    "shell.destructive.write_system_file",
                    f"{self.q} {verb} {shown}, {what}, {where}.",
                )
            else:
                self.ask(
                    "destructive",
                    "shell.destructive.write_outside",
                    f"{self.q} {verb} {shown}, {where}.",
                )

    # ---------------------------------------------------------------- one command

    def command_verdicts(self) -> None:
        c, f = self.c, self.f
        before = len(self.out)
        for r in c.redirects:
            if r.is_fd_dup:
                continue
            if r.writes:
                verb = "appends to" if r.op in (">>", "&>>") else "overwrites"
                if r.op == "<>":
                    verb = "opens for writing"
                self.write_target(r.target, r.kind, verb)
            elif r.reads:
                path = self.resolve(r.target, r.kind)
                if self.zone(path) == "net":
                    f.network = True
                    self.ask(
                        "network",
                        "shell.network.dev_tcp",
                        f"{self.q} opens a network connection through `{r.target}`.",
                    )
                else:
                    self.read_file(r.target, r.kind)
        for name, value in c.assignments:
            self.check_env_var(name, value)
        for w in c.wrappers:
            wn = command_name(w[0])
            if wn in ("sudo", "doas", "pkexec", "run0"):
                inner = c.name or "a command"
                self.ask(
                    "privilege",
                    f"shell.privilege.{wn}",
                    f"{self.q} runs `{inner}` as root through `{wn}`.",
                )
            elif wn == "uv" and any(a.startswith("--with") for a in w):
                self.ask(
                    "package_install",
                    "shell.package_install.uv",
                    f"{self.q} installs extra packages for the run (`--with`).",
                )
        if not c.argv:
            if len(self.out) == before:
                what = "only sets variables" if c.assignments else "only sets up redirections"
                self.allow("read_only", "shell.assignment", f"{self.q} {what}.")
            return
        if c.kinds[0] != "static":
            self.dynamic_command()
            return
        name = c.name
        if "/" not in c.argv[0] and c.argv[0] in self.functions:
            self.allow(
                "read_only",
                "shell.function_call",
                f"{self.q} calls `{c.argv[0]}`, a function defined in this command line "
                "(its body is checked on its own).",
            )
            return
        handler = _HANDLERS.get(name)
        if handler is not None:
            handler(self)
        elif name in _SYSTEM_PACKAGERS:
            self.system_packager()
        elif name in _RUNNERS:
            self.runner()
        elif name in _READ_ONLY:
            self.read_only()
        elif name in _WORKSPACE_WRITERS:
            self.write_target(".", "static", "writes files in")
        elif name in _EDITORS:
            self.allow("write", "shell.write.editor", f"{self.q} opens an editor on files.")
        elif name in _NETWORK_TOOLS:
            f.network = True
            self.ask("network", f"shell.network.{name}", f"{self.q} {_NETWORK_TOOLS[name]}.")
        elif name in _PRIVILEGE_TOOLS:
            self.ask("privilege", f"shell.privilege.{name}", f"{self.q} {_PRIVILEGE_TOOLS[name]}.")
        elif name in _DESTRUCTIVE_TOOLS:
            self.ask(
                "destructive",
                f"shell.destructive.{name}",
                f"{self.q} {_DESTRUCTIVE_TOOLS[name]}.",
            )
        else:
            self.unknown()
        if name in _READERS:
            for a, k in zip(c.argv[1:], c.kinds[1:], strict=True):
                if not a.startswith("-") and "://" not in a:
                    self.read_file(a, k)

    def check_env_var(self, name: str, value: str) -> None:
        if name in _INJECT_VARS:
            self.ask(
                "obfuscation",
                "shell.obfuscation.env_injection",
                f"{self.q} sets `{name}`, which makes programs load or run extra code.",
            )

    def read_only(self) -> None:
        self.allow(
            "read_only", "shell.read_only", f"{self.q} only reads files or prints information."
        )

    def runner(self) -> None:
        self.allow(
            "read_only",
            "shell.workspace.runner",
            f"{self.q} runs the workspace's own tests, build or linters.",
        )

    def unknown(self) -> None:
        c = self.c
        argv0 = c.argv[0]
        if "/" in argv0:
            path = self.resolve(argv0, c.kinds[0])
            z = self.zone(path)
            if path:
                self.f.executes.append(path)
            if z == "workspace":
                self.allow(
                    "write",
                    "shell.workspace_executable",
                    f"{self.q} runs `{argv0}`, a program inside the workspace.",
                )
            elif z == "tmp":
                self.ask(
                    "unknown",
                    "shell.unknown_command",
                    f"{self.q} runs `{argv0}` from a temporary directory; what it does can't be "
                    "checked.",
                )
            else:
                self.ask(
                    "unknown",
                    "shell.unknown_command",
                    f"{self.q} runs `{argv0}`, a program outside the workspace that this policy "
                    "doesn't know, so what it does can't be checked.",
                )
            return
        self.ask(
            "unknown",
            "shell.unknown_command",
            f"`{c.name}` isn't a command this policy knows, so what {self.q} does can't be "
            "checked.",
        )

    def dynamic_command(self) -> None:
        c = self.c
        if c.kinds[0] == "cmdsub":
            reason = f"{self.q} runs whatever `{c.argv[0]}` prints as a command."
        else:
            reason = (
                f"{self.q} runs a command whose name comes from `{c.argv[0]}`, known only when "
                "it runs."
            )
        self.ask("obfuscation", "shell.obfuscation.dynamic_command", reason)

    # ---------------------------------------------------------------- handlers

    def h_rm(self) -> None:
        c = self.c
        a = _Args(c)
        recursive = a.has("r", "R", "recursive") and c.name == "rm"
        force = a.has("f", "force") and c.name == "rm"
        targets = a.operands
        for v, k in targets:
            if not recursive or k != "static" or not self.certain(v):
                continue
            path = self.resolve(v, k)
            if path in ("/", "/*", "/.*"):
                self.deny("shell.forbidden.rm_root", f"{self.q} deletes the whole file system.")
                return
            if path in ("~", "~/*", "~/.*") or (path and re.fullmatch(r"/(root|home/[^/]+)", path)):
                self.deny("shell.forbidden.rm_home", f"{self.q} deletes your whole home directory.")
                return
        outside = []
        unknown = []
        for v, k in targets:
            z = self.zone(self.resolve(v, k))
            if z == "unknown":
                unknown.append(v)
            elif z not in ("workspace", "tmp"):
                outside.append(v)
        where = f", including `{outside[0]}` outside the workspace" if outside else ""
        if recursive:
            self.ask(
                "destructive",
                "shell.destructive.rm_recursive",
                f"{self.q} deletes files recursively{where}.",
            )
        elif force:
            self.ask(
                "destructive",
                "shell.destructive.rm_force",
                f"{self.q} deletes files without asking (`-f`){where}.",
            )
        elif outside:
            self.ask(
                "destructive",
                "shell.destructive.rm_outside",
                f"{self.q} deletes `{outside[0]}`, outside the workspace.",
            )
        elif unknown or c.extra_args:
            what = f"`{unknown[0]}`" if unknown else "files named by its input"
            self.ask(
                "destructive",
                "shell.destructive.rm_unknown",
                f"{self.q} deletes {what}, only known when it runs.",
            )
        else:
            self.allow("write", "shell.write.rm", f"{self.q} deletes files inside the workspace.")

    def h_rmdir(self) -> None:
        for v, k in _Args(self.c, "", {"ignore-fail-on-non-empty"}).operands:
            self.write_target(v, k, "removes the directory")
        if not _Args(self.c).operands:
            self.read_only()

    def h_write_operands(self) -> None:
        """mkdir, touch, mkfifo, fallocate: every operand is a file it creates or changes."""
        c = self.c
        short = {"touch": "dtr", "mkdir": "m", "mkfifo": "m", "fallocate": "lon"}.get(c.name, "")
        long_ = {"date", "reference", "time", "mode", "context", "length", "offset"}
        a = _Args(c, short, long_)
        verb = {"mkdir": "creates", "touch": "touches", "mkfifo": "creates"}.get(c.name, "writes")
        for v, k in a.operands:
            self.write_target(v, k, verb)
        if not a.operands:
            self.read_only()

    def h_mktemp(self) -> None:
        a = _Args(self.c, "p", {"tmpdir", "suffix"})
        for d in a.get("p", "tmpdir"):
            self.write_target(d, _kind(d), "creates a temporary file in")
            return
        if a.has("t") or a.has("tmpdir") or not any("/" in o for o in a.ops):
            self.allow("write", "shell.write.workspace", f"{self.q} creates a temporary file.")
            return
        for v, k in a.operands:
            self.write_target(v, k, "creates")

    def h_cp(self) -> None:
        c = self.c
        a = _Args(c, "tS", {"target-directory", "suffix"})
        ops = a.operands
        dest = a.get("t", "target-directory")
        if dest:
            targets, sources = [(dest[0], _kind(dest[0]))], ops
        elif len(ops) >= 2:
            targets, sources = [ops[-1]], ops[:-1]
        else:
            targets, sources = [], ops
        verb = {"cp": "copies into", "mv": "moves into", "install": "installs into"}[c.name]
        for v, k in sources:
            self.read_file(v, k)
            if c.name == "mv":
                z = self.zone(self.resolve(v, k))
                if z not in ("workspace", "tmp"):
                    self.ask(
                        "destructive",
                        "shell.destructive.mv_outside",
                        f"{self.q} moves `{v}` away from its place outside the workspace.",
                    )
        for v, k in targets:
            self.write_target(v, k, verb)
        if not targets and not sources:
            self.read_only()

    def h_install(self) -> None:
        a = _Args(self.c, "gmotS", {"group", "mode", "owner", "target-directory", "suffix"})
        if a.has("d", "directory"):
            for v, k in a.operands:
                self.write_target(v, k, "creates")
            return
        self.h_cp()

    def h_ln(self) -> None:
        c = self.c
        a = _Args(c, "tS", {"target-directory", "suffix"})
        ops = a.operands
        if not ops:
            self.read_only()
            return
        target = ops[0]
        link = ops[-1] if len(ops) > 1 else (posixpath.basename(ops[0][0].rstrip("/")), "static")
        if a.get("t", "target-directory"):
            link = (a.get("t", "target-directory")[0], "static")
        self.write_target(link[0], link[1], "creates the link")
        tv, tk = target
        if a.has("s", "symbolic") and not tv.startswith(("/", "~")):
            # a relative symlink target is relative to the link's directory
            tpath = self.resolve(posixpath.join(posixpath.dirname(link[0]) or ".", tv), tk)
        else:
            tpath = self.resolve(tv, tk)
        tz = self.zone(tpath)
        if tz not in ("workspace", "tmp", "null"):
            self.ask(
                "destructive",
                "shell.destructive.link_outside",
                f"{self.q} links to `{target[0]}` outside the workspace; writes through the "
                "link would land there.",
            )

    def h_truncate(self) -> None:
        a = _Args(self.c, "sr", {"size", "reference"})
        for v, k in a.operands:
            self.write_target(v, k, "truncates")
        self.ask(
            "destructive",
            "shell.destructive.truncate",
            f"{self.q} cuts files to a given size, discarding their data.",
        )

    def h_tee(self) -> None:
        a = _Args(self.c)
        verb = "appends to" if a.has("a", "append") else "writes"
        for v, k in a.operands:
            self.write_target(v, k, verb)
        if not a.operands:
            self.read_only()

    def h_sed(self) -> None:
        c = self.c
        a = _Args(c, "efl", {"expression", "file", "line-length"})
        inplace = a.has("in-place") or any(
            x.startswith("-") and not x.startswith("--") and "i" in x.split("e")[0]
            for x in c.argv[1:]
        )
        scripts = a.get("e", "expression")
        files = a.operands
        if not scripts and not a.get("f", "file") and files:
            scripts, files = [files[0][0]], files[1:]
        for s in scripts:
            if re.search(r"(^|[;\n{}])\s*e(\s|$|;)", s) or re.search(
                r"^s(.).*\1.*\1[gpIiMm0-9]*e", s
            ):
                self.ask(
                    "obfuscation",
                    "shell.obfuscation.sed_exec",
                    f"{self.q} uses sed's `e` command, which runs shell commands.",
                )
            for m in re.finditer(r"(?:^|[;\n{}]|/[gpIiMm0-9]*)\s*w\s+(\S+)", s):
                self.write_target(m.group(1), "static", "writes")
        if inplace:
            for v, k in files:
                self.write_target(v, k, "edits")
            if not files:
                self.read_only()
        else:
            self.read_only()
        for v, k in files:
            self.read_file(v, k)

    def h_awk(self) -> None:
        c = self.c
        a = _Args(c, "fvFiE", {"file", "assign", "field-separator", "include", "exec"})
        progs = []
        files = a.operands
        if not a.get("f", "file", "E", "exec") and files:
            progs, files = [files[0][0]], files[1:]
        for p in progs:
            if re.search(r"\bsystem\s*\(|\|\s*getline|\|&|\bprint[f]?\b[^;}]*\|\s*\"", p):
                self.ask(
                    "obfuscation",
                    "shell.obfuscation.awk_exec",
                    f"{self.q} runs shell commands from inside its awk program.",
                )
            if "/inet/" in p:
                self.f.network = True
                self.ask("network", "shell.network.awk", f"{self.q} opens a network connection.")
            for m in re.finditer(r">>?\s*\"([^\"]+)\"", p):
                self.write_target(m.group(1), "static", "writes")
        if "inplace" in a.get("i", "include"):
            for v, k in files:
                self.write_target(v, k, "edits")
        self.read_only()

    def h_sort(self) -> None:
        a = _Args(
            self.c,
            "kotST",
            {
                "key",
                "output",
                "field-separator",
                "buffer-size",
                "temporary-directory",
                "files0-from",
            },
        )
        for o in a.get("o", "output"):
            self.write_target(o, _kind(o), "writes")
        self.read_only()

    def h_uniq(self) -> None:
        a = _Args(self.c, "fsw", {"skip-fields", "skip-chars", "check-chars"})
        if len(a.operands) > 1:
            self.write_target(a.operands[1][0], a.operands[1][1], "writes")
        self.read_only()

    def h_chmod(self) -> None:
        c = self.c
        recursive = False
        reference = False
        mode = ""
        ops: list[tuple[str, str]] = []
        for a, k in zip(c.argv[1:], c.kinds[1:], strict=True):
            if a in ("-R", "--recursive"):
                recursive = True
            elif a.startswith("--reference"):
                reference = True
            elif a.startswith("--"):
                continue
            elif not mode and not reference and _CHMOD_MODE.fullmatch(a):
                mode = a
            elif re.fullmatch(r"-[cfvR]+", a):
                recursive = recursive or "R" in a
            else:
                ops.append((a, k))
        if recursive and any(
            self.resolve(v, k) in ("/", "/*") for v, k in ops if k == "static" and self.certain(v)
        ):
            self.deny(
                "shell.forbidden.chmod_root",
                f"{self.q} changes the permissions of every file on the system.",
            )
            return
        if re.search(r"[ugoa]*[+=][rwxXt]*s", mode) or re.fullmatch(r"0*[2-7][0-7]{3}", mode):
            self.ask(
                "privilege",
                "shell.privilege.setuid",
                f"{self.q} sets the setuid/setgid bit, making a program run with its owner's "
                "rights.",
            )
        if recursive:
            self.ask(
                "destructive",
                "shell.destructive.chmod_recursive",
                f"{self.q} changes permissions recursively.",
            )
        for v, k in ops:
            self.write_target(v, k, "changes the permissions of")
        if ("x" in mode and "-" not in mode) or re.fullmatch(r"0*[0-7]*[1357][0-7]{0,2}", mode):
            for v, k in ops:
                path = self.resolve(v, k)
                if path:
                    self.f.writes[path] = "makes executable"

    def h_chown(self) -> None:
        c = self.c
        a = _Args(c, "", {"reference", "from"})
        ops = a.operands
        owner = ""
        if not a.get("reference") and ops:
            owner, ops = ops[0][0], ops[1:]
        recursive = a.has("R", "recursive")
        if recursive and any(
            self.resolve(v, k) in ("/", "/*") for v, k in ops if k == "static" and self.certain(v)
        ):
            self.deny(
                "shell.forbidden.chown_root",
                f"{self.q} changes the owner of every file on the system.",
            )
            return
        if re.fullmatch(r"(root|0)?([:.](root|0|wheel))?", owner) and owner:
            self.ask("privilege", "shell.privilege.chown_root", f"{self.q} gives files to root.")
        if recursive:
            self.ask(
                "destructive",
                "shell.destructive.chown_recursive",
                f"{self.q} changes file owners recursively.",
            )
        for v, k in ops:
            self.write_target(v, k, "changes the owner of")

    def h_dd(self) -> None:
        for a in self.c.argv[1:]:
            key, _, val = a.partition("=")
            if key == "of":
                path = self.resolve(val, _kind(val))
                if self.zone(path) == "disk":
                    self.deny(
                        "shell.forbidden.dd_disk",
                        f"{self.q} writes raw data onto the disk device `{val}`, destroying it.",
                    )
                    return
                if self.zone(path) not in ("workspace", "tmp", "null"):
                    self.write_target(val, _kind(val), "writes raw data to")
            elif key == "if":
                self.read_file(val, _kind(val))
        self.ask(
            "destructive",
            "shell.destructive.dd",
            f"{self.q} copies raw bytes with `dd`, which can overwrite files or disks.",
        )

    def h_mkfs(self) -> None:
        for v, k in _Args(self.c, "tLbcCEgGiIjJlmNoOrTU").operands:
            if self.zone(self.resolve(v, k)) == "disk":
                self.deny(
                    "shell.forbidden.mkfs_disk",
                    f"{self.q} formats the disk `{v}`, erasing everything on it.",
                )
                return
        self.ask(
            "destructive",
            "shell.destructive.mkfs",
            f"{self.q} creates a file system, erasing what was on the target.",
        )

    def h_kill(self) -> None:
        a = _Args(self.c, "sn")
        if a.has("l", "L", "list", "table"):
            self.read_only()
            return
        self.ask("destructive", "shell.destructive.kill", f"{self.q} stops running processes.")

    def h_crontab(self) -> None:
        a = _Args(self.c, "u")
        if a.has("l"):
            self.read_only()
        elif a.has("r"):
            self.ask(
                "destructive",
                "shell.destructive.crontab_remove",
                f"{self.q} deletes all of the user's scheduled jobs.",
            )
        else:
            self.ask(
                "privilege",
                "shell.privilege.crontab",
                f"{self.q} installs scheduled jobs that run later, outside this session.",
            )

    def h_find(self) -> None:
        c = self.c
        argv = c.argv
        acted = False
        for k, a in enumerate(argv):
            if a == "-delete":
                acted = True
                self.ask(
                    "destructive",
                    "shell.destructive.find_delete",
                    f"{self.q} deletes every file it matches.",
                )
            elif a in ("-fprint", "-fprint0", "-fprintf", "-fls") and k + 1 < len(argv):
                acted = True
                self.write_target(argv[k + 1], c.kinds[k + 1], "writes")
        if not acted:
            self.allow("read_only", "shell.read_only", f"{self.q} only lists files.")

    def h_grep(self) -> None:
        c = self.c
        a = _Args(
            c,
            "efABCdDm",
            {
                "regexp",
                "file",
                "after-context",
                "before-context",
                "context",
                "max-count",
                "include",
                "exclude",
                "type",
                "glob",
            },
        )
        self.read_only()
        files = a.operands if a.get("e", "regexp", "f", "file") else a.operands[1:]
        for v, k in files:
            self.read_file(v, k)

    def h_echo(self) -> None:
        c = self.c
        args = c.argv[1:]
        escapes = any(re.search(r"\\(x[0-9a-fA-F]|[0-7]{3}|u[0-9a-fA-F]{4})", a) for a in args)
        if escapes and (
            c.name == "printf" or any(re.fullmatch(r"-[neE]*e[neE]*", a) for a in args)
        ):
            self.f.source = "decode"
        if c.name == "printf" and len(args) >= 2 and args[0] == "-v":
            pass
        self.read_only()

    def h_env(self) -> None:
        c = self.c
        if c.name == "env" and any(re.fullmatch(r"-\w*S.*|--split-string.*", a) for a in c.argv):
            self.read_only()  # `env -S 'cmd'`: the command string is classified on its own
            return
        bare = len(c.argv) == 1 or (len(c.argv) == 2 and c.argv[1] in ("-p", "-x"))
        if c.name in ("env", "printenv") or (
            c.name in ("export", "declare", "typeset", "set") and bare
        ):
            self.f.env_dump = True
        if c.name in ("export", "declare", "typeset", "local", "readonly"):
            for a in c.argv[1:]:
                name, eq, value = a.partition("=")
                if eq:
                    self.check_env_var(name, value)
        self.read_only()

    def h_base64(self) -> None:
        a = _Args(self.c, "w", {"wrap"})
        if a.has("d", "D", "decode") or (self.c.name == "xxd" and a.has("r", "revert")):
            self.f.source = "decode"
        elif a.operands:
            self.f.source = "archive"
        self.read_only()

    def h_openssl(self) -> None:
        sub = self.c.argv[1] if len(self.c.argv) > 1 else ""
        if sub in ("s_client", "s_server", "s_time", "ocsp"):
            self.f.network = True
            self.ask("network", "shell.network.openssl", f"{self.q} opens a TLS connection.")
            return
        if sub in ("enc", "base64") and "-d" in self.c.argv:
            self.f.source = "decode"
        for flag in ("-out", "-keyout"):
            if flag in self.c.argv:
                i = self.c.argv.index(flag)
                if i + 1 < len(self.c.argv):
                    self.write_target(self.c.argv[i + 1], self.c.kinds[i + 1], "writes")
        self.read_only()

    def h_tar(self) -> None:
        c = self.c
        argv = c.argv
        letters = set()
        if len(argv) > 1 and not argv[1].startswith("-"):
            letters |= set(argv[1])
        a = _Args(
            c,
            "fCbTXKgNLIH",
            {
                "file",
                "directory",
                "files-from",
                "exclude-from",
                "use-compress-program",
                "to-command",
                "transform",
                "exclude",
                "format",
                "owner",
                "group",
                "mode",
            },
            start=2 if letters else 1,
        )
        letters |= {f for f in a.flags if len(f) == 1}
        archive = a.get("f", "file")
        ops = a.ops
        if "f" in letters and not archive and ops:
            archive, ops = [ops[0]], ops[1:]
        if a.get("to-command", "use-compress-program", "I") or any(
            x.startswith(
                (
                    "--checkpoint-action=exec",
                    "--info-script",
                    "--new-volume-script",
                    "--rsh-command",
                )
            )
            for x in argv
        ):
            self.ask(
                "obfuscation",
                "shell.obfuscation.tar_exec",
                f"{self.q} makes tar run another command.",
            )
        create = bool(letters & {"c", "r", "u", "A"}) or a.has("create", "append", "update")
        extract = "x" in letters or a.has("extract", "get")
        if create:
            for src in ops:
                self.read_file(src, _kind(src))
            if not archive or archive[0] == "-":
                self.f.source = "archive"
                self.read_only()
            else:
                self.write_target(archive[0], _kind(archive[0]), "writes the archive")
        elif extract:
            dest = a.get("C", "directory")
            target = dest[0] if dest else "."
            if "P" in letters or a.has("absolute-names"):
                self.ask(
                    "destructive",
                    "shell.destructive.tar_absolute",
                    f"{self.q} extracts with absolute paths, which can overwrite any file.",
                )
            self.write_target(target, _kind(target), "extracts files into")
        else:
            self.read_only()

    def h_zip(self) -> None:
        c = self.c
        a = _Args(c, "d" if c.name != "zip" else "bnitOPxZ", {"exdir"})
        if c.name == "zip":
            if not a.operands:
                self.read_only()
                return
            out = a.operands[0]
            for v, k in a.operands[1:]:
                self.read_file(v, k)
            if out[0] == "-":
                self.f.source = "archive"
                self.read_only()
            else:
                self.write_target(out[0], out[1], "writes the archive")
            return
        if a.has("l", "t", "v", "Z", "p", "c"):
            self.read_only()
            return
        dest = a.get("d", "exdir")
        target = dest[0] if dest else "."
        self.write_target(target, _kind(target), "extracts files into")

    def h_gzip(self) -> None:
        a = _Args(self.c, "S", {"suffix"})
        if a.has("c", "stdout", "to-stdout", "l", "list", "t", "test") or not a.operands:
            if a.operands and not a.has("d", "decompress"):
                self.f.source = "archive"
            self.read_only()
            return
        for v, k in a.operands:
            self.write_target(v, k, "compresses or expands")

    def h_git(self) -> None:
        c = self.c
        argv = c.argv
        i = 1
        repo_dir: str | None = None
        configs: list[str] = []
        while i < len(argv):
            a = argv[i]
            if a in (
                "-C",
                "-c",
                "--git-dir",
                "--work-tree",
                "--namespace",
                "--config-env",
                "--exec-path",
                "--super-prefix",
            ) and i + 1 < len(argv):
                if a == "-C" or a in ("--git-dir", "--work-tree"):
                    repo_dir = argv[i + 1]
                if a == "-c":
                    configs.append(argv[i + 1])
                i += 2
                continue
            if a.startswith(("--git-dir=", "--work-tree=")):
                repo_dir = a.split("=", 1)[1]
            if a.startswith("-"):
                i += 1
                continue
            break
        sub = argv[i] if i < len(argv) else ""
        args = list(argv[i + 1 :])
        sc = SimpleCommand(("git-" + sub, *args), ("static", *c.kinds[i + 1 :]))
        a = _Args(
            sc,
            "mCFco",
            {
                "message",
                "file",
                "reuse-message",
                "author",
                "date",
                "cleanup",
                "output",
                "format",
                "upload-pack",
                "receive-pack",
                "repo",
                "exec",
                "template",
                "depth",
                "branch",
                "origin",
                "reference",
                "separate-git-dir",
                "shallow-since",
                "jobs",
            },
        )
        for cfg in configs:
            key = cfg.split("=", 1)[0].lower()
            if _GIT_EXEC_KEYS.match(key):
                self.ask(
                    "obfuscation",
                    "shell.obfuscation.git_config_command",
                    f"{self.q} sets `{key}`, which makes git run a command.",
                )
        if repo_dir is not None and sub in _GIT_WRITE | {"push", "pull"}:
            z = self.zone(self.resolve(repo_dir, _kind(repo_dir)))
            if z not in ("workspace", "tmp"):
                self.ask(
                    "destructive",
                    "shell.destructive.git_outside",
                    f"{self.q} changes the repository at `{repo_dir}`, outside the workspace.",
                )
        ops = a.ops

        def network(what: str = "talks to a remote repository over the network") -> None:
            self.f.network = True
            self.ask("network", "shell.network.git_remote", f"{self.q} {what}.")

        def write(what: str = "changes the local repository") -> None:
            self.allow("write", "shell.write.git", f"{self.q} {what}.")

        def read() -> None:
            self.allow("read_only", "shell.read_only", f"{self.q} only reads the repository.")

        if sub in ("", "help", "version") or sub in _GIT_READ:
            if sub == "diff" and a.get("output"):
                self.write_target(a.get("output")[0], "static", "writes")
            read()
        elif sub == "push":
            force = (
                a.has("f", "force", "force-if-includes", "mirror")
                or any(x.startswith("force-with-lease") for x in a.flags | set(a.values))
                or any(o.startswith("+") for o in ops[1:])
            )
            delete = a.has("d", "delete", "prune") or any(o.startswith(":") for o in ops[1:])
            if force:
                self.ask(
                    "destructive",
                    "shell.destructive.git_force_push",
                    f"{self.q} force-pushes, which can overwrite history on the remote.",
                )
            elif delete:
                self.ask(
                    "destructive",
                    "shell.destructive.git_push_delete",
                    f"{self.q} deletes branches or tags on the remote.",
                )
            network("sends commits to a remote repository")
        elif sub in (
            "pull",
            "fetch",
            "ls-remote",
            "send-email",
            "request-pull",
            "daemon",
            "instaweb",
            "http-backend",
        ):
            if sub == "send-email":
                network("sends patches by email")
            else:
                network()
        elif sub == "clone":
            src = ops[0] if ops else ""
            if re.match(r"^[\w+.-]+://|^[\w.-]+@[\w.-]+:|^[\w.-]+:(?!/)", src) or not src:
                network("clones a repository over the network")
            else:
                write("copies a local repository")
            if len(ops) > 1:
                self.write_target(ops[1], _kind(ops[1]), "clones into")
        elif sub == "reset":
            if a.has("hard"):
                self.ask(
                    "destructive",
                    "shell.destructive.git_reset_hard",
                    f"{self.q} discards uncommitted changes for good.",
                )
            else:
                write()
        elif sub == "clean":
            if a.has("n", "dry-run"):
                read()
            elif a.has("f", "force"):
                self.ask(
                    "destructive",
                    "shell.destructive.git_clean",
                    f"{self.q} deletes untracked files for good.",
                )
            else:
                write()
        elif sub == "branch":
            if a.has("D") or (a.has("d", "delete") and a.has("f", "force")) or a.has("M", "C"):
                self.ask(
                    "destructive",
                    "shell.destructive.git_branch_delete",
                    f"{self.q} force-deletes or overwrites a branch, losing commits not merged "
                    "elsewhere.",
                )
            elif not ops or a.has(
                "l",
                "list",
                "a",
                "all",
                "r",
                "remotes",
                "v",
                "show-current",
                "contains",
                "merged",
                "no-merged",
                "points-at",
            ):
                read()
            else:
                write()
        elif sub in ("checkout", "switch"):
            if a.has("f", "force", "discard-changes"):
                self.ask(
                    "destructive",
                    "shell.destructive.git_discard",
                    f"{self.q} discards local changes (`--force`).",
                )
            else:
                write()
        elif sub == "stash":
            verb = ops[0] if ops else ""
            if verb in ("drop", "clear"):
                self.ask(
                    "destructive",
                    "shell.destructive.git_stash_drop",
                    f"{self.q} deletes stashed changes.",
                )
            elif verb in ("list", "show"):
                read()
            else:
                write()
        elif sub == "tag":
            if not ops or a.has("l", "list", "contains", "points-at", "v", "verify"):
                read()
            else:
                write()
        elif sub == "remote":
            verb = ops[0] if ops else ""
            if verb in ("", "show", "get-url"):
                read()
            elif verb == "update":
                network()
            else:
                write()
        elif sub == "config":
            reading = a.has(
                "get",
                "get-all",
                "get-regexp",
                "list",
                "l",
                "show-origin",
                "get-urlmatch",
                "get-color",
            ) or (len(ops) == 1 and "=" not in ops[0])
            if ops and ops[0] in ("get", "list"):
                reading = True
            if not reading and ops and _GIT_EXEC_KEYS.match(ops[0].lower().removeprefix("set ")):
                self.ask(
                    "obfuscation",
                    "shell.obfuscation.git_config_command",
                    f"{self.q} sets `{ops[0]}`, which makes git run a command.",
                )
            if reading:
                read()
            elif a.has("global", "system"):
                self.ask(
                    "destructive",
                    "shell.destructive.write_outside",
                    f"{self.q} changes git settings outside the workspace "
                    f"(`--{'global' if a.has('global') else 'system'}`).",
                )
            else:
                write("changes the repository's settings")
        elif sub == "submodule":
            verb = ops[0] if ops else ""
            if verb in ("update", "add", "sync") and (verb != "sync"):
                network("fetches submodules over the network")
            elif verb == "foreach":
                self.ask(
                    "unknown",
                    "shell.unknown_command",
                    f"{self.q} runs a command in every submodule, which can't be checked here.",
                )
            elif verb in ("", "status", "summary"):
                read()
            else:
                write()
        elif sub in ("filter-branch", "filter-repo"):
            self.ask(
                "destructive",
                "shell.destructive.git_rewrite",
                f"{self.q} rewrites the repository's history.",
            )
        elif sub == "reflog":
            if ops and ops[0] in ("expire", "delete"):
                self.ask(
                    "destructive",
                    "shell.destructive.git_reflog",
                    f"{self.q} deletes reflog entries, the way to recover lost commits.",
                )
            else:
                read()
        elif sub == "lfs":
            if ops and ops[0] in ("pull", "fetch", "push", "clone"):
                network()
            else:
                write()
        elif sub == "archive":
            if a.get("remote"):
                network()
            for o in a.get("o", "output"):
                self.write_target(o, _kind(o), "writes")
            if not a.get("o", "output"):
                read()
        elif sub == "add":
            for v in ops:
                self.read_file(v, _kind(v))
            write()
        elif sub in _GIT_WRITE:
            write()
        else:
            self.ask(
                "unknown",
                "shell.git.unknown_subcommand",
                f"`git {sub}` isn't a git command this policy knows (an alias or an "
                f"extension?), so what {self.q} does can't be checked.",
            )

    def h_curl(self) -> None:
        c = self.c
        a = _Args(
            c,
            "dFTHoXeuAbcDEKmrwxyYzCPQUt",
            {
                "data",
                "data-binary",
                "data-raw",
                "data-ascii",
                "data-urlencode",
                "json",
                "form",
                "form-string",
                "upload-file",
                "header",
                "output",
                "request",
                "referer",
                "user",
                "user-agent",
                "cookie",
                "cookie-jar",
                "dump-header",
                "cert",
                "config",
                "max-time",
                "range",
                "write-out",
                "proxy",
                "connect-timeout",
                "retry",
                "output-dir",
                "url",
                "resolve",
                "cacert",
                "key",
                "pass",
                "limit-rate",
                "interface",
                "variable",
                "connect-to",
                "oauth2-bearer",
                "aws-sigv4",
                "max-filesize",
                "proto",
                "ciphers",
            },
        )
        self.f.network = True
        uploads: list[str] = []
        for v in a.get("d", "data", "data-binary", "data-ascii", "json"):
            if v.startswith("@"):
                uploads.append(v[1:])
        for v in a.get("data-urlencode"):
            if "@" in v.split("=", 1)[0] or v.startswith("@"):
                uploads.append(v.split("@", 1)[1])
        for v in a.get("F", "form"):
            m = re.match(r"[^=]*=[@<]([^;]+)", v)
            if m:
                uploads.append(m.group(1))
        uploads += a.get("T", "upload-file")
        for u in uploads:
            if u not in ("-", "."):
                self.read_file(u, _kind(u))
        urls = [o for o in a.ops] + a.get("url")
        outputs = a.get("o", "output")
        if outputs:
            for o in outputs:
                if o != "-":
                    self.write_target(o, _kind(o), "downloads to", how="downloads")
                else:
                    self.f.source = "download"
        elif a.has("O", "remote-name", "remote-name-all"):
            dirs = a.get("output-dir")
            for u in urls:
                name = posixpath.basename(urlsplit(u).path) if "://" in u else posixpath.basename(u)
                if name:
                    target = posixpath.join(dirs[0], name) if dirs else name
                    self.write_target(target, _kind(target), "downloads to", how="downloads")
        else:
            self.f.source = "download"
        host = _host(urls[0]) if urls else ""
        up = f" and uploads `{uploads[0]}`" if uploads else ""
        self.ask(
            "network",
            "shell.network.curl",
            f"{self.q} contacts {host or 'a server'} over the network{up}.",
        )

    def h_wget(self) -> None:
        c = self.c
        a = _Args(
            c,
            "OoPiaUeTtwQDAXIRlBhY",
            {
                "output-document",
                "directory-prefix",
                "input-file",
                "post-file",
                "body-file",
                "post-data",
                "body-data",
                "header",
                "user-agent",
                "output-file",
                "append-output",
                "tries",
                "timeout",
                "user",
                "password",
                "level",
                "method",
                "execute",
                "quota",
            },
        )
        self.f.network = True
        uploads = a.get("post-file", "body-file")
        for u in uploads:
            self.read_file(u, _kind(u))
        outs = a.get("O", "output-document")
        urls = a.ops
        if outs:
            for o in outs:
                if o == "-":
                    self.f.source = "download"
                else:
                    self.write_target(o, _kind(o), "downloads to", how="downloads")
        else:
            prefix = (a.get("P", "directory-prefix") or [""])[0]
            for u in urls:
                name = posixpath.basename(urlsplit(u if "://" in u else "http://" + u).path)
                target = posixpath.join(prefix, name or "index.html")
                self.write_target(target, _kind(target), "downloads to", how="downloads")
        host = _host(urls[0]) if urls else ""
        up = f" and uploads `{uploads[0]}`" if uploads else ""
        self.ask(
            "network",
            "shell.network.wget",
            f"{self.q} downloads from {host or 'a server'}{up}.",
        )

    def h_netcat(self) -> None:
        c = self.c
        self.f.network = True
        a = _Args(c, "ecpswiqWXxIOTV")
        if (
            a.get("e", "c")
            or a.has("exec", "sh-exec", "lua-exec")
            or any(re.match(r"(?i)^(exec|system):", x) for x in c.argv[1:])
        ):
            self.ask(
                "network",
                "shell.network.reverse_shell",
                f"{self.q} connects a program to the network (a remote shell).",
            )
            return
        self.ask("network", f"shell.network.{c.name}", f"{self.q} opens a raw network connection.")

    def h_scp(self) -> None:
        c = self.c
        a = _Args(c, "cFiJlmoPSDX")
        self.f.network = True
        remote = False
        for v, k in a.operands:
            if re.match(r"^([\w.-]+@)?[\w.-]+:|^\w+://", v):
                remote = True
            else:
                self.read_file(v, k)
        if c.name == "rsync" and not remote:
            self.f.network = False
            if len(a.operands) >= 2:
                self.write_target(a.operands[-1][0], a.operands[-1][1], "copies into")
            if any(f.startswith("delete") for f in a.flags) or a.get("delete"):
                self.ask(
                    "destructive",
                    "shell.destructive.rsync_delete",
                    f"{self.q} deletes files in the destination that the source lacks.",
                )
            return
        self.ask(
            "network",
            f"shell.network.{c.name}",
            f"{self.q} copies files to or from another machine.",
        )

    def h_ssh(self) -> None:
        self.f.network = True
        self.ask("network", "shell.network.ssh", f"{self.q} connects to another machine over SSH.")

    def h_shell(self) -> None:
        c = self.c
        how, idx = shell_invocation(c.argv)
        feeder = next((w for w in c.wrappers if w[0] in ("xargs", "find")), None)
        if how == "code":
            if idx is None:
                self.read_only()
                return
            if c.kinds[idx] == "cmdsub":
                self.ask(
                    "obfuscation",
                    "shell.obfuscation.generated_code",
                    f"{self.q} runs shell code produced when it runs (`{_q(c.argv[idx], 30)[1:-1]}`"
                    "), which can't be checked.",
                )
                return
            if feeder is not None and any(t in c.argv[idx] for t in _replace_tokens(c)):
                self.ask(
                    "obfuscation",
                    "shell.obfuscation.input_as_code",
                    f"{self.q} pastes its input into shell code, so the input decides what runs.",
                )
                return
            self.allow(
                "read_only",
                "shell.shell_string",
                f"{self.q} runs the shell code in its string (each command is checked).",
            )
            return
        if how == "script":
            assert idx is not None
            self.run_script(c.argv[idx], c.kinds[idx], "shell script")
            return
        if c.extra_args:
            self.ask(
                "obfuscation",
                "shell.obfuscation.input_as_code",
                f"{self.q} runs scripts named by its input.",
            )
            return
        stdin = [r for r in c.redirects if r.stdin_text is not None or r.reads]
        for r in stdin:
            if r.stdin_text is not None:
                if r.kind == "cmdsub":
                    self.ask(
                        "obfuscation",
                        "shell.obfuscation.generated_code",
                        f"{self.q} runs shell code produced when it runs, which can't be checked.",
                    )
                else:
                    self.allow(
                        "read_only",
                        "shell.shell_string",
                        f"{self.q} runs the shell code fed on its input (each command is checked).",
                    )
            else:
                self.run_script(r.target, r.kind, "shell script")
            return
        if c.piped_from:
            self.f.stdin_code = True
            return
        self.allow("read_only", "shell.interactive", f"{self.q} starts an interactive shell.")

    def run_script(self, value: str, kind: str, what: str) -> None:
        if kind == "cmdsub":
            self.ask(
                "obfuscation",
                "shell.obfuscation.generated_code",
                f"{self.q} runs a {what} produced by another command (`{value}`), which can't be "
                "checked.",
            )
            return
        path = self.resolve(value, kind)
        if path:
            self.f.executes.append(path)
        z = self.zone(path)
        if z == "workspace":
            self.allow(
                "write",
                "shell.workspace_executable",
                f"{self.q} runs `{value}`, a {what} inside the workspace.",
            )
        else:
            self.ask(
                "unknown",
                "shell.unknown_script",
                f"{self.q} runs `{value}`, a {what} outside the workspace that can't be checked.",
            )

    def h_source(self) -> None:
        c = self.c
        if len(c.argv) < 2:
            self.read_only()
            return
        target, kind = c.argv[1], c.kinds[1]
        if target in ("/dev/stdin", "-", "/proc/self/fd/0"):
            feeds = [r for r in c.redirects if r.stdin_text is not None]
            if feeds and feeds[0].kind == "cmdsub":
                self.ask(
                    "obfuscation",
                    "shell.obfuscation.generated_code",
                    f"{self.q} runs shell code produced when it runs, which can't be checked.",
                )
            elif feeds:
                self.allow(
                    "read_only",
                    "shell.shell_string",
                    f"{self.q} runs the shell code fed on its input (each command is checked).",
                )
            elif c.piped_from:
                self.f.stdin_code = True
            else:
                self.read_only()
            return
        if kind == "cmdsub":
            self.ask(
                "obfuscation",
                "shell.obfuscation.source_generated",
                f"{self.q} runs shell code produced by another command (`{target}`).",
            )
            return
        self.run_script(target, kind, "shell file")

    def h_eval(self) -> None:
        self.ask(
            "obfuscation",
            "shell.obfuscation.eval",
            f"{self.q} evaluates a string as shell code (`eval`), which hides what runs.",
        )

    def h_interpreter(self) -> None:
        c = self.c
        name = c.name
        lang = _LANG.get(name, name)
        argv = c.argv
        code: str | None = None
        code_kind = "static"
        module: str | None = None
        script: tuple[str, str] | None = None
        extra: list[str] = []
        flags: set[str] = set()
        code_letters = {
            "python": "c",
            "pypy": "c",
            "perl": "eE",
            "ruby": "e",
            "node": "ep",
            "nodejs": "ep",
            "php": "r",
            "lua": "e",
        }[name]
        arg_letters = {
            "python": "WXQ",
            "pypy": "WXQ",
            "perl": "IMmxl0dD",
            "ruby": "IrCEFKTUWx",
            "node": "r",
            "nodejs": "r",
            "php": "cdz",
            "lua": "l",
        }[name]
        i = 1
        rest_at = len(argv)
        while i < len(argv):
            a = argv[i]
            if a == "-":
                script = ("-", "static")
                break
            if a == "--":
                if i + 1 < len(argv):
                    script = (argv[i + 1], c.kinds[i + 1])
                break
            if a.startswith("--"):
                key, eq, val = a.partition("=")
                if key in ("--eval", "--print", "--command") and name in ("node", "nodejs"):
                    if eq:
                        code, code_kind = val, _kind(val)
                    elif i + 1 < len(argv):
                        code, code_kind = argv[i + 1], c.kinds[i + 1]
                    rest_at = i + 2
                    break
                if key in ("--version", "--help"):
                    flags.add("V")
                if key in ("--require", "--import", "--loader", "--experimental-loader") and not eq:
                    i += 1
                    if i < len(argv):
                        extra.append(argv[i])
                i += 1
                continue
            if a.startswith("-") and len(a) > 1 and c.kinds[i] == "static":
                cluster = a[1:]
                stop = False
                for k, ch in enumerate(cluster):
                    value = cluster[k + 1 :]
                    if ch in code_letters or (ch == "m" and name in ("python", "pypy")):
                        if not value and i + 1 < len(argv):
                            i += 1
                            value = argv[i]
                            code_kind = c.kinds[i]
                        if ch == "m" and name in ("python", "pypy"):
                            module = value
                        else:
                            code = value
                        rest_at = i + 1
                        stop = True
                        break
                    if ch in arg_letters:
                        if not value and i + 1 < len(argv):
                            i += 1
                            value = argv[i]
                        extra.append(value)
                        break
                    flags.add(ch)
                i += 1
                if stop:
                    break
                continue
            script = (a, c.kinds[i])
            break
        if module is not None:
            self.python_module(module, rest_at)
            return
        if code is not None:
            self.inspect_code(lang, " ".join([code, *extra]), code_kind)
            if name == "perl" and "i" in flags:
                for v, k in zip(argv[rest_at:], c.kinds[rest_at:], strict=True):
                    self.write_target(v, k, "edits")
            return
        if script is not None and script[0] != "-":
            self.run_script(script[0], script[1], f"{lang} script")
            return
        if flags & {"V", "h"} and script is None:
            self.read_only()
            return
        feeds = [r for r in c.redirects if r.stdin_text is not None]
        if feeds:
            r = feeds[0]
            self.inspect_code(
                lang, r.stdin_text or "", "cmdsub" if r.kind == "cmdsub" else "static"
            )
            return
        reads = [r for r in c.redirects if r.reads]
        if reads:
            self.run_script(reads[0].target, reads[0].kind, f"{lang} script")
            return
        if c.piped_from:
            self.f.stdin_code = True
            return
        self.allow(
            "read_only", "shell.interactive", f"{self.q} starts an interactive {lang} prompt."
        )

    def python_module(self, module: str, rest_at: int) -> None:
        c = self.c
        if module in ("pip", "pip3"):
            self.pip(list(c.argv[rest_at:]))
        elif module in _PY_NETWORK_MODULES:
            self.f.network = True
            self.ask(
                "network",
                "shell.network.python_module",
                f"{self.q} runs `{module}`, which serves or fetches over the network.",
            )
        elif module in ("venv", "virtualenv"):
            ops = [a for a in c.argv[rest_at:] if not a.startswith("-")]
            for o in ops:
                self.write_target(o, _kind(o), "creates a virtual environment in")
            if not ops:
                self.read_only()
        elif module == "ensurepip":
            self.ask(
                "package_install",
                "shell.package_install.pip",
                f"{self.q} installs pip into the environment.",
            )
        elif module in _PY_RUNNER_MODULES:
            self.runner()
        else:
            self.allow(
                "write",
                "shell.workspace_executable",
                f"{self.q} runs the Python module `{module}` from the project's environment.",
            )

    def inspect_code(self, lang: str, code: str, kind: str) -> None:
        """Heuristics over interpreter code: it is inspected, not parsed."""
        if kind == "cmdsub":
            self.ask(
                "obfuscation",
                "shell.obfuscation.generated_code",
                f"{self.q} runs {lang} code produced when it runs, which can't be checked.",
            )
            return
        found = False
        m = _NET_CODE.search(code)
        if m:
            found = True
            self.f.network = True
            self.ask(
                "network",
                "shell.network.interpreter",
                f"{self.q} opens network connections from inside {lang} code (`{m.group()}`).",
            )
        m = _EXEC_CODE.search(code)
        if m:
            found = True
            self.ask(
                "obfuscation",
                "shell.obfuscation.interpreter_exec",
                f"{self.q} runs shell commands from inside {lang} code (`{m.group().strip()}`), "
                "where this check can't see them.",
            )
        m = _EVAL_CODE.search(code)
        if m:
            found = True
            self.ask(
                "obfuscation",
                "shell.obfuscation.interpreter_eval",
                f"{self.q} evaluates generated code (`{m.group().strip()}`), which hides what "
                "runs.",
            )
        m = _DELETE_CODE.search(code)
        if m:
            found = True
            self.ask(
                "destructive",
                "shell.destructive.interpreter_delete",
                f"{self.q} deletes files from inside {lang} code (`{m.group().strip()}`).",
            )
        for m in _PY_OPEN_WRITE.finditer(code):
            found = True
            self.write_target(m.group(2), "static", f"writes (from {lang} code)")
        for m in _CODE_WRITE_PATH.finditer(code):
            path = next((g for g in (m.group(2), m.group(4), m.group(6), m.group(7)) if g), None)
            if path:
                found = True
                self.write_target(path.strip(), "static", f"writes (from {lang} code)")
        if _WRITE_API.search(code):
            for lit in _STRING_LITERAL.finditer(code):
                path = lit.group(2)
                if path.startswith(("/", "~", "../")) and self.zone(self.resolve(path)) in (
                    "outside",
                    "home",
                    "device",
                    "disk",
                ):
                    found = True
                    self.write_target(path, "static", f"writes or moves (from {lang} code)")
        if _ENV_CODE.search(code):
            self.f.env_dump = True
        for m in _STRING_LITERAL.finditer(code):
            literal = m.group(2)
            if (self.is_secret(literal, None) and "/" in literal) or literal.startswith(".env"):
                self.read_file(literal)
        if not found:
            self.allow(
                "read_only",
                "shell.interpreter.inline",
                f"{self.q} runs inline {lang} code that doesn't use the network, run commands, "
                "delete files or write outside the workspace.",
            )

    # --- package managers

    def pip(self, args: list[str]) -> None:
        ops = [a for a in args if not a.startswith("-")]
        sub = ops[0] if ops else ""
        if sub in ("install", "uninstall"):
            what = "installs" if sub == "install" else "removes"
            self.ask(
                "package_install",
                "shell.package_install.pip",
                f"{self.q} {what} Python packages (`pip {sub}`).",
            )
        elif sub in ("download", "wheel"):
            self.f.network = True
            self.ask(
                "network",
                "shell.network.pip_download",
                f"{self.q} downloads Python packages from the package index.",
            )
        elif sub in (
            "",
            "list",
            "show",
            "freeze",
            "check",
            "help",
            "config",
            "debug",
            "cache",
            "inspect",
            "hash",
            "index",
            "search",
            "completion",
        ):
            self.read_only()
        else:
            self.ask(
                "unknown",
                "shell.unknown_command",
                f"`pip {sub}` isn't a pip command this policy knows.",
            )

    def h_pip(self) -> None:
        self.pip(list(self.c.argv[1:]))

    def pkg(self, tool: str, what: str = "installs or changes packages") -> None:
        self.ask("package_install", f"shell.package_install.{tool}", f"{self.q} {what}.")

    def sub(self, skip_values: frozenset[str] = frozenset()) -> tuple[str, list[str]]:
        ops = []
        argv = self.c.argv
        i = 1
        while i < len(argv):
            a = argv[i]
            if a in skip_values:
                i += 2
                continue
            if not a.startswith("-"):
                ops.append(a)
            i += 1
        return (ops[0] if ops else ""), ops[1:]

    def h_uv(self) -> None:
        sub, rest = self.sub()
        if sub == "pip":
            self.pip(list(self.c.argv[self.c.argv.index("pip") + 1 :]))
        elif sub in ("add", "remove", "sync", "lock", "self") or (
            sub in ("tool", "python")
            and rest[:1]
            and rest[0] in ("install", "upgrade", "run", "uninstall")
        ):
            self.pkg("uv", f"installs or changes packages (`uv {sub}`)")
        elif sub in ("venv", "init", "build"):
            self.allow("write", "shell.write.workspace", f"{self.q} sets up the project.")
        elif sub == "publish":
            self.f.network = True
            self.ask("network", "shell.network.publish", f"{self.q} publishes a package.")
        elif sub in ("", "tree", "version", "help", "tool", "python", "cache", "export"):
            self.read_only()
        elif sub == "run":
            self.runner()
        else:
            self.ask(
                "unknown",
                "shell.unknown_command",
                f"`uv {sub}` isn't a uv command this policy knows.",
            )

    def h_uvx(self) -> None:
        self.pkg(self.c.name, "downloads a package from the index and runs it")

    def h_py_project(self) -> None:
        """poetry, pipenv, pdm, hatch, conda: `run` is unwrapped by the parser."""
        c = self.c
        sub, _ = self.sub(frozenset({"-n", "--name", "-p", "--prefix", "-C", "--directory"}))
        installs = {
            "add",
            "install",
            "update",
            "remove",
            "lock",
            "sync",
            "uninstall",
            "upgrade",
            "create",
            "self",
            "inject",
            "reinstall",
            "env",
            "clean",
            "graph-install",
        }
        if sub in installs or (c.name == "pipx" and sub in ("run", "runpip")):
            self.pkg(c.name, f"installs or changes packages (`{c.name} {sub}`)")
        elif sub == "publish":
            self.f.network = True
            self.ask("network", "shell.network.publish", f"{self.q} publishes a package.")
        else:
            self.runner()

    def h_node_pm(self) -> None:
        c = self.c
        sub, rest = self.sub(
            frozenset({"--prefix", "-C", "--cwd", "--filter", "-w", "--workspace"})
        )
        installs = {
            "install",
            "i",
            "in",
            "ins",
            "inst",
            "insta",
            "instal",
            "isnt",
            "isntall",
            "add",
            "ci",
            "clean-install",
            "update",
            "up",
            "upgrade",
            "uninstall",
            "remove",
            "rm",
            "r",
            "un",
            "unlink",
            "link",
            "ln",
            "dedupe",
            "prune",
            "rebuild",
            "rb",
            "exec",
            "x",
            "dlx",
            "create",
            "global",
            "import",
            "install-test",
            "it",
            "pm",
        }
        if c.name == "yarn" and sub == "":
            self.pkg("yarn", "installs the project's packages")
        elif sub == "audit" and "fix" in rest:
            self.pkg(c.name, "installs package updates (`audit fix`)")
        elif sub in installs or (sub == "init" and rest):
            self.pkg(c.name, f"installs or changes packages (`{c.name} {sub}`)")
        elif sub in (
            "publish",
            "unpublish",
            "deprecate",
            "login",
            "logout",
            "adduser",
            "owner",
            "access",
            "dist-tag",
            "token",
            "team",
            "star",
            "hook",
        ):
            self.f.network = True
            self.ask(
                "network",
                "shell.network.publish",
                f"{self.q} publishes to or changes the package registry.",
            )
        else:
            self.runner()

    def h_npx(self) -> None:
        self.pkg(self.c.name, "may download a package from the registry and run it")

    def h_cargo(self) -> None:
        sub, _ = self.sub()
        if sub in ("install", "uninstall", "add", "remove", "update", "binstall"):
            self.pkg("cargo", f"installs or changes crates (`cargo {sub}`)")
        elif sub in ("publish", "login", "logout", "yank", "owner"):
            self.f.network = True
            self.ask("network", "shell.network.publish", f"{self.q} publishes to crates.io.")
        else:
            self.runner()

    def h_go(self) -> None:
        sub, rest = self.sub()
        if sub in ("install", "get") or (sub == "mod" and rest[:1] in (["download"], ["tidy"])):
            self.pkg("go", f"downloads and installs modules (`go {sub}`)")
        else:
            self.runner()

    def h_gem(self) -> None:
        sub, _ = self.sub()
        c = self.c
        if sub in (
            "install",
            "uninstall",
            "update",
            "cleanup",
            "add",
            "remove",
            "lock",
            "i",
            "",
        ) and not (c.name == "gem" and sub == ""):
            self.pkg(c.name, f"installs or changes Ruby gems (`{c.name} {sub or 'install'}`)")
        elif sub in ("push", "yank", "owner", "signin"):
            self.f.network = True
            self.ask("network", "shell.network.publish", f"{self.q} publishes a gem.")
        else:
            self.read_only()

    def h_composer(self) -> None:
        sub, _ = self.sub()
        if sub in (
            "install",
            "require",
            "update",
            "remove",
            "create-project",
            "global",
            "upgrade",
            "i",
            "u",
        ):
            self.pkg("composer", f"installs or changes PHP packages (`composer {sub}`)")
        else:
            self.runner()

    def h_dotnet(self) -> None:
        sub, rest = self.sub()
        if sub in ("add", "restore", "workload") or (sub == "tool" and rest[:1] == ["install"]):
            self.pkg("dotnet", f"installs packages (`dotnet {sub}`)")
        elif sub == "nuget" and rest[:1] == ["push"]:
            self.f.network = True
            self.ask("network", "shell.network.publish", f"{self.q} publishes a package.")
        else:
            self.runner()

    def h_make(self) -> None:
        ops = [a for a in self.c.argv[1:] if not a.startswith("-") and "=" not in a]
        if any(o in ("install", "uninstall") for o in ops):
            self.pkg("make_install", "installs build output into the system (`make install`)")
        else:
            self.runner()

    def h_bun(self) -> None:
        sub, _ = self.sub()
        if sub in (
            "install",
            "i",
            "add",
            "a",
            "remove",
            "rm",
            "update",
            "link",
            "x",
            "pm",
            "create",
            "upgrade",
        ):
            self.pkg("bun", f"installs or changes packages (`bun {sub}`)")
        elif sub == "publish":
            self.f.network = True
            self.ask("network", "shell.network.publish", f"{self.q} publishes a package.")
        else:
            self.runner()

    def h_deno(self) -> None:
        sub, rest = self.sub()
        if sub in ("install", "add", "upgrade", "uninstall"):
            self.pkg("deno", f"installs packages (`deno {sub}`)")
        elif sub == "eval" and rest:
            self.inspect_code("JavaScript", " ".join(rest), "static")
        else:
            self.runner()

    def h_mkdocs(self) -> None:
        if "gh-deploy" in self.c.argv:
            self.f.network = True
            self.ask("network", "shell.network.publish", f"{self.q} publishes the site.")
        else:
            self.runner()

    def system_packager(self) -> None:
        c = self.c
        ops = [a for a in c.argv[1:]]
        verb = next((a for a in ops if not a.startswith("-")), "")
        flags = [a for a in ops if a.startswith("-")]
        if c.name == "pacman" or c.name in ("yay", "paru"):
            if any(re.match(r"^-(Q|S[si]|F)", f) for f in flags) and not any(
                re.match(r"^-(S(?![si])|R|U)", f) for f in flags
            ):
                self.read_only()
                return
            self.pkg(c.name, "installs or removes system packages")
            return
        if c.name in ("dpkg", "rpm"):
            if any(
                re.match(r"^-(i|U|e|r|P|F)|^--(install|upgrade|erase|remove|purge)", f)
                for f in flags
            ):
                self.pkg(c.name, "installs or removes system packages")
            else:
                self.read_only()
            return
        if verb in _PACKAGER_READ_VERBS or (
            not verb and flags and all(f in _PACKAGER_READ_VERBS for f in flags)
        ):
            self.read_only()
            return
        if not verb and not flags:
            self.read_only()
            return
        self.pkg(c.name, f"installs, removes or upgrades packages (`{c.name} {verb}`)")

    # --- system tools with read-only modes

    def h_docker(self) -> None:
        sub, rest = self.sub(frozenset({"-H", "--host", "--context", "-c", "--config", "-l"}))
        if sub in (
            "ps",
            "images",
            "inspect",
            "logs",
            "version",
            "info",
            "stats",
            "top",
            "history",
            "port",
            "diff",
            "events",
            "search",
            "",
        ) or (
            sub in ("image", "container", "volume", "network", "context")
            and rest[:1] in (["ls"], ["list"], ["inspect"])
        ):
            self.read_only()
        elif sub in ("pull", "push", "login", "logout"):
            self.f.network = True
            self.ask("network", f"shell.network.{self.c.name}", f"{self.q} talks to a registry.")
        else:
            self.ask(
                "privilege",
                f"shell.privilege.{self.c.name}",
                f"{self.q} controls the container engine, which can act as root on the host.",
            )

    def h_systemctl(self) -> None:
        sub, _ = self.sub(frozenset({"-H", "--host", "-M", "--machine", "-t", "--type"}))
        if sub.startswith(("status", "show", "list-", "is-", "cat", "help")) or sub in ("",):
            self.read_only()
        else:
            self.ask("privilege", "shell.privilege.systemctl", f"{self.q} manages system services.")

    def h_service(self) -> None:
        if (len(self.c.argv) > 2 and self.c.argv[2] == "status") or "--status-all" in self.c.argv:
            self.read_only()
        else:
            self.ask("privilege", "shell.privilege.service", f"{self.q} manages system services.")

    def h_mount(self) -> None:
        if len(self.c.argv) == 1 or self.c.argv[1:] in (["-l"], ["--list"]):
            self.read_only()
        else:
            self.ask("privilege", "shell.privilege.mount", f"{self.q} mounts file systems.")

    def h_sysctl(self) -> None:
        if (
            "-w" in self.c.argv
            or "--write" in self.c.argv
            or "-p" in self.c.argv
            or any("=" in a for a in self.c.argv[1:])
        ):
            self.ask("privilege", "shell.privilege.sysctl", f"{self.q} changes kernel settings.")
        else:
            self.read_only()

    def h_ip(self) -> None:
        changing = {
            "add",
            "del",
            "delete",
            "set",
            "flush",
            "change",
            "replace",
            "append",
            "prepend",
            "exec",
            "up",
            "down",
            "attach",
            "detach",
        }
        if c_any := [a for a in self.c.argv[1:] if a in changing]:
            self.ask(
                "privilege",
                f"shell.privilege.{self.c.name}",
                f"{self.q} changes the network configuration (`{c_any[0]}`).",
            )
        else:
            self.read_only()

    def h_ifconfig(self) -> None:
        if len([a for a in self.c.argv[1:] if not a.startswith("-")]) > 1:
            self.ask(
                "privilege", "shell.privilege.ifconfig", f"{self.q} changes a network interface."
            )
        else:
            self.read_only()

    def h_hostname(self) -> None:
        if [a for a in self.c.argv[1:] if not a.startswith("-")]:
            self.ask("privilege", "shell.privilege.hostname", f"{self.q} changes the host name.")
        else:
            self.read_only()

    def h_date(self) -> None:
        if any(a in ("-s", "--set") or a.startswith("--set=") for a in self.c.argv[1:]):
            self.ask("privilege", "shell.privilege.date", f"{self.q} changes the system clock.")
        else:
            self.read_only()

    def h_wrapper_alone(self) -> None:
        """A wrapper the parser didn't unwrap: it runs no command of its own."""
        c = self.c
        if c.name == "sudo" or c.name == "doas" or c.name == "pkexec":
            self.ask("privilege", f"shell.privilege.{c.name}", f"{self.q} runs as root.")
        elif c.name in ("env", "printenv"):
            self.h_env()
        else:
            self.read_only()

    # ---------------------------------------------------------------- combinations

    def pipe_to_code(self) -> None:
        for c, f in self.items:
            if not f.stdin_code:
                continue
            ups = [(u, uf) for u, uf in self.items if _upstream(u, c)]
            part = c.pipeline_text or c.text
            pq = _q(part)
            shell = c.name in SHELLS or c.name in ("source", ".")
            rule = (
                "shell.obfuscation.pipe_to_shell"
                if shell
                else "shell.obfuscation.pipe_to_interpreter"
            )
            what = "a shell" if shell else f"the {_LANG.get(c.name, c.name)} interpreter"
            dl = next((u for u, uf in ups if uf.source == "download" or uf.network), None)
            dec = next((u for u, uf in ups if uf.source == "decode"), None)
            if dl is not None:
                reason = (
                    f"{pq} pipes a download into {what} (`{dl.name} … | {c.name}`), which runs "
                    "whatever the server sends."
                )
            elif dec is not None:
                reason = (
                    f"{pq} decodes hidden data (`{dec.name}`) and pipes it into {what} to run, "
                    "so what runs isn't visible."
                )
            else:
                reason = f"{pq} pipes text into {what} (`{c.name}`), which runs it as code."
            self.ask("obfuscation", rule, reason, part)

    def write_then_run(self) -> None:
        written: dict[str, tuple[str, str]] = {}
        for c, f in self.items:
            for path in f.executes:
                if path in written:
                    how, _ = written[path]
                    shown = posixpath.relpath(path, self.ws) if _inside(path, self.ws) else path
                    verb = {"downloads": "downloads", "makes executable": "makes"}.get(
                        how, "writes"
                    )
                    tail = " executable" if how == "makes executable" else ""
                    self.ask(
                        "obfuscation",
                        "shell.obfuscation.write_then_run",
                        f"{_q(self.command)} {verb} `{shown}`{tail} and then runs it in the same "
                        "command line, so what runs can't be checked.",
                        self.command,
                    )
            for path, how in f.writes.items():
                written[path] = (how, c.text)

    def exfiltration(self) -> None:
        nets = [(c, f) for c, f in self.items if f.network]
        found = False
        for c, f in nets:
            if f.secrets:
                found = True
                self.ask(
                    "exfiltration",
                    "shell.exfiltration.upload_secret",
                    f"{_q(c.text)} sends `{f.secrets[0]}`, a secret-looking file, over the "
                    "network.",
                    c.text,
                )
            elif f.env_dump:
                found = True
                self.ask(
                    "exfiltration",
                    "shell.exfiltration.env_to_network",
                    f"{_q(c.text)} reads environment variables (where API keys live) and "
                    "contacts the network.",
                    c.text,
                )
            for u, uf in self.items:
                if not _upstream(u, c):
                    continue
                part = c.pipeline_text or f"{u.text} | {c.text}"
                if uf.secrets:
                    found = True
                    self.ask(
                        "exfiltration",
                        "shell.exfiltration.secret_to_network",
                        f"{_q(part)} pipes `{uf.secrets[0]}`, a secret-looking file, into "
                        f"`{c.name}`, which sends data over the network.",
                        part,
                    )
                elif uf.env_dump:
                    found = True
                    self.ask(
                        "exfiltration",
                        "shell.exfiltration.env_to_network",
                        f"{_q(part)} pipes the environment (where API keys and tokens live) into "
                        f"`{c.name}`, which sends data over the network.",
                        part,
                    )
                elif uf.source == "archive":
                    found = True
                    self.ask(
                        "exfiltration",
                        "shell.exfiltration.archive_to_network",
                        f"{_q(part)} streams packed or encoded files (`{u.name}`) into "
                        f"`{c.name}`, which sends them over the network.",
                        part,
                    )
        if not found:
            found = self.secret_and_network(nets)
        if found:
            return
        for c, f in self.items:
            for value in f.credentials:
                self.ask(
                    "exfiltration",
                    "shell.exfiltration.credential_read",
                    f"{_q(c.text)} reads `{value}`, a private key or credential store outside "
                    "the workspace; its contents would leave the sandbox in the conversation.",
                    c.text,
                )

    def secret_and_network(self, nets: list[tuple[SimpleCommand, _Facts]]) -> bool:
        readers = [(c, f) for c, f in self.items if f.secrets or f.env_dump]
        if not nets or not readers:
            return False
        f = readers[0][1]
        what = f"`{f.secrets[0]}`, a secret-looking file," if f.secrets else "the environment"
        self.ask(
            "exfiltration",
            "shell.exfiltration.secret_and_network",
            f"{_q(self.command)} reads {what} and contacts the network (`{nets[0][0].name}`) "
            "in the same command line, which could send it away.",
            self.command,
        )
        return True

    def fork_bombs(self) -> None:
        for name, text in self.functions.items():
            calls = [
                c for c, _ in self.items if c.function == name and c.argv and c.argv[0] == name
            ]
            pids: dict[int, int] = {}
            for c in calls:
                for pid, _ in c.pipes:
                    pids[pid] = pids.get(pid, 0) + 1
            if any(c.background for c in calls) or any(n > 1 for n in pids.values()):
                self.deny(
                    "shell.forbidden.fork_bomb",
                    f"{_q(text)} is a fork bomb: a function that keeps starting copies of itself "
                    "until the machine runs out of processes.",
                    text,
                )


def _replace_tokens(c: SimpleCommand) -> set[str]:
    """What ``xargs -I R`` / ``find -exec`` replace with their input."""
    tokens = set()
    for w in c.wrappers:
        if w[0] == "find":
            tokens.add("{}")
        if command_name(w[0]) != "xargs":
            continue
        for k, x in enumerate(w):
            if x == "-I" and k + 1 < len(w):
                tokens.add(w[k + 1])
            elif x.startswith("-I"):
                tokens.add(x[2:])
            elif x.startswith("-i"):
                tokens.add(x[2:] or "{}")
            elif x.startswith("--replace"):
                tokens.add(x.partition("=")[2] or "{}")
    return {t for t in tokens if t}


def _host(url: str) -> str:
    try:
        parts = urlsplit(url if "://" in url else "http://" + url)
        return f"`{parts.hostname}`" if parts.hostname else ""
    except ValueError:
        return ""


_HANDLERS = {
    "rm": _Analysis.h_rm,
    "unlink": _Analysis.h_rm,
    "rmdir": _Analysis.h_rmdir,
    "mkdir": _Analysis.h_write_operands,
    "touch": _Analysis.h_write_operands,
    "mkfifo": _Analysis.h_write_operands,
    "fallocate": _Analysis.h_write_operands,
    "mktemp": _Analysis.h_mktemp,
    "cp": _Analysis.h_cp,
    "mv": _Analysis.h_cp,
    "install": _Analysis.h_install,
    "ln": _Analysis.h_ln,
    "truncate": _Analysis.h_truncate,
    "tee": _Analysis.h_tee,
    "sed": _Analysis.h_sed,
    "gsed": _Analysis.h_sed,
    "awk": _Analysis.h_awk,
    "gawk": _Analysis.h_awk,
    "mawk": _Analysis.h_awk,
    "nawk": _Analysis.h_awk,
    "sort": _Analysis.h_sort,
    "uniq": _Analysis.h_uniq,
    "chmod": _Analysis.h_chmod,
    "chown": _Analysis.h_chown,
    "chgrp": _Analysis.h_chown,
    "dd": _Analysis.h_dd,
    "mkfs": _Analysis.h_mkfs,
    "mke2fs": _Analysis.h_mkfs,
    "mkswap": _Analysis.h_mkfs,
    "kill": _Analysis.h_kill,
    "crontab": _Analysis.h_crontab,
    "find": _Analysis.h_find,
    "grep": _Analysis.h_grep,
    "egrep": _Analysis.h_grep,
    "fgrep": _Analysis.h_grep,
    "rg": _Analysis.h_grep,
    "ag": _Analysis.h_grep,
    "ack": _Analysis.h_grep,
    "echo": _Analysis.h_echo,
    "printf": _Analysis.h_echo,
    "env": _Analysis.h_wrapper_alone,
    "printenv": _Analysis.h_env,
    "export": _Analysis.h_env,
    "declare": _Analysis.h_env,
    "typeset": _Analysis.h_env,
    "local": _Analysis.h_env,
    "readonly": _Analysis.h_env,
    "set": _Analysis.h_env,
    "base64": _Analysis.h_base64,
    "base32": _Analysis.h_base64,
    "basenc": _Analysis.h_base64,
    "xxd": _Analysis.h_base64,
    "openssl": _Analysis.h_openssl,
    "tar": _Analysis.h_tar,
    "bsdtar": _Analysis.h_tar,
    "zip": _Analysis.h_zip,
    "unzip": _Analysis.h_zip,
    "gzip": _Analysis.h_gzip,
    "gunzip": _Analysis.h_gzip,
    "bzip2": _Analysis.h_gzip,
    "bunzip2": _Analysis.h_gzip,
    "xz": _Analysis.h_gzip,
    "unxz": _Analysis.h_gzip,
    "zstd": _Analysis.h_gzip,
    "unzstd": _Analysis.h_gzip,
    "compress": _Analysis.h_gzip,
    "git": _Analysis.h_git,
    "curl": _Analysis.h_curl,
    "wget": _Analysis.h_wget,
    "nc": _Analysis.h_netcat,
    "ncat": _Analysis.h_netcat,
    "netcat": _Analysis.h_netcat,
    "socat": _Analysis.h_netcat,
    "scp": _Analysis.h_scp,
    "rsync": _Analysis.h_scp,
    "ssh": _Analysis.h_ssh,
    "source": _Analysis.h_source,
    ".": _Analysis.h_source,
    "eval": _Analysis.h_eval,
    "pip": _Analysis.h_pip,
    "uv": _Analysis.h_uv,
    "uvx": _Analysis.h_uvx,
    "pipx": _Analysis.h_py_project,
    "poetry": _Analysis.h_py_project,
    "pipenv": _Analysis.h_py_project,
    "pdm": _Analysis.h_py_project,
    "hatch": _Analysis.h_py_project,
    "conda": _Analysis.h_py_project,
    "mamba": _Analysis.h_py_project,
    "micromamba": _Analysis.h_py_project,
    "npm": _Analysis.h_node_pm,
    "yarn": _Analysis.h_node_pm,
    "pnpm": _Analysis.h_node_pm,
    "npx": _Analysis.h_npx,
    "pnpx": _Analysis.h_npx,
    "bunx": _Analysis.h_npx,
    "bun": _Analysis.h_bun,
    "deno": _Analysis.h_deno,
    "cargo": _Analysis.h_cargo,
    "go": _Analysis.h_go,
    "gem": _Analysis.h_gem,
    "bundle": _Analysis.h_gem,
    "composer": _Analysis.h_composer,
    "dotnet": _Analysis.h_dotnet,
    "make": _Analysis.h_make,
    "gmake": _Analysis.h_make,
    "mkdocs": _Analysis.h_mkdocs,
    "docker": _Analysis.h_docker,
    "podman": _Analysis.h_docker,
    "nerdctl": _Analysis.h_docker,
    "systemctl": _Analysis.h_systemctl,
    "service": _Analysis.h_service,
    "mount": _Analysis.h_mount,
    "sysctl": _Analysis.h_sysctl,
    "ip": _Analysis.h_ip,
    "ifconfig": _Analysis.h_ifconfig,
    "hostname": _Analysis.h_hostname,
    "date": _Analysis.h_date,
    "sudo": _Analysis.h_wrapper_alone,
    "doas": _Analysis.h_wrapper_alone,
    "pkexec": _Analysis.h_wrapper_alone,
    **{name: _Analysis.h_shell for name in SHELLS},
    **{name: _Analysis.h_interpreter for name in _INTERPRETERS},
}
