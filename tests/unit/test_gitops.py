"""Unit tests of the git pieces that need no host: patch parsing, diff rows, the reviewer's
verdict, what a follow in the sandbox means, the watcher's filter, renames in the diff."""

from __future__ import annotations

import subprocess
from pathlib import Path

from pynchy_tui.gitops import diff as gdiff
from pynchy_tui.gitops import in_sandbox, review
from pynchy_tui.gitops import worktree as wt
from pynchy_tui.gitops.diff import FileDiff
from pynchy_tui.gitops.manager import _watch_filter, idle_notice
from pynchy_tui.widgets.diff_view import build_rows
from tests.integration.git_helpers import make_repo, run_git

PATCH = """diff --git a/a.py b/a.py
index 1111111..2222222 100644
--- a/a.py
+++ b/a.py
@@ -1,2 +1,2 @@
 x = 1
-y = 2
+y = 3
diff --git a/img.png b/img.png
new file mode 100644
index 0000000..3333333
Binary files /dev/null and b/img.png differ
diff --git a/n.txt b/n.txt
--- a/n.txt
+++ b/n.txt
@@ -1 +1 @@
-old
\\ No newline at end of file
+new
"""


def test_split_patch_gives_the_body_of_each_file() -> None:
    files = gdiff.split_patch(PATCH)
    assert files[0] == ["@@ -1,2 +1,2 @@", " x = 1", "-y = 2", "+y = 3"]
    assert files[1] == ["Binary files /dev/null and b/img.png differ"]
    assert files[2] == ["@@ -1 +1 @@", "-old", "\\ No newline at end of file", "+new"]


def test_rows_number_the_lines_and_cut_long_files() -> None:
    f = FileDiff("a.py", "M", 1, 1, lines=("@@ -10,2 +10,2 @@", " x", "-y", "+z"))
    rows = build_rows((f,), None, set())
    assert [(r.kind, r.old, r.new) for r in rows] == [
        ("file", None, None),
        ("hunk", None, None),
        ("ctx", 10, 10),
        ("del", 11, None),
        ("add", None, 11),
    ]
    long = FileDiff("b.py", "A", 100, 0, lines=("@@ -0,0 +1,100 @@",) + ("+x",) * 100)
    rows = build_rows((long,), 10, set())
    assert rows[-1].kind == "more" and rows[-1].hidden == 91 and len(rows) == 12
    rows = build_rows((long,), 10, {"b.py"})
    assert rows[-1].kind == "more" and rows[-1].hidden == -1 and len(rows) == 1 + 101 + 1
    unread = FileDiff("c.py", "M", 1, 1)
    assert [r.kind for r in build_rows((unread,), 10, set())] == ["file", "load"]


def test_only_a_clear_approval_approves() -> None:
    ok = review.parse_verdict('Sure.\n{"verdict": "approve", "reasons": ["fine"]}')
    assert ok.approved and ok.reasons == ("fine",)
    no = review.parse_verdict('{"verdict": "reject", "reasons": "uses eval"}')
    assert not no.approved and no.reasons == ("uses eval",)
    for text in ("LGTM", '{"verdict": "maybe"}', "{not json}", ""):
        v = review.parse_verdict(text)
        assert not v.approved and "fail closed" in v.reasons[0]


def test_the_review_diff_is_cut_at_the_limit_and_names_what_was_cut() -> None:
    text, cut = review.cap_diff([("a", "x" * 60), ("b", "y" * 60), ("c", "z" * 10)], limit=100)
    assert text == "x" * 60 + "z" * 10 and cut == ["b"]
    prompt = review.build_prompt(
        workspace="w",
        branch="pynchy/w",
        main="main",
        commits=["abc fix"],
        diff_text=text,
        cut=cut,
        conventions={},
    )
    assert "not shown: b" in prompt and "(the project states no conventions)" in prompt


def test_follow_output_is_parsed_defensively() -> None:
    ok = in_sandbox.parse_follow({"exit_code": 0, "stdout": "", "stderr": ""})
    assert ok.ok and not ok.conflicts
    out = (
        "CONFLICT (content): Merge conflict in a.txt\n"
        f"{in_sandbox.CONFLICT_MARK}\na.txt\nsub/b\x1b[31m.txt\n{in_sandbox.STATE_MARK}\nin-progress\n"
    )
    bad = in_sandbox.parse_follow({"exit_code": 1, "stdout": out, "stderr": ""})
    assert not bad.ok and bad.in_progress and bad.conflicts == ("a.txt", "sub/b?[31m.txt")
    other = in_sandbox.parse_follow({"exit_code": 1, "stdout": "", "stderr": "dirty tree"})
    assert not other.ok and not other.in_progress and "dirty tree" in other.output


def test_the_watcher_ignores_object_writes_and_spill_files(tmp_path: Path) -> None:
    keep = _watch_filter(tmp_path)
    assert keep(None, str(tmp_path / "src" / "a.py"))
    assert keep(None, str(tmp_path / ".git" / "HEAD"))
    assert keep(None, str(tmp_path / ".git" / "refs" / "heads" / "pynchy" / "w"))
    assert not keep(None, str(tmp_path / ".git" / "objects" / "ab" / "cdef"))
    assert not keep(None, str(tmp_path / ".git" / "index"))
    assert not keep(None, str(tmp_path / ".git" / "HEAD.lock"))
    assert not keep(None, str(tmp_path / ".pynchy" / "spill" / "x.txt"))


def test_renames_and_untracked_files_in_the_diff(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"old_name.py": "".join(f"l{i}\n" for i in range(30))})
    info = wt.inspect_repo(repo)
    work, shadow = tmp_path / "work", tmp_path / "shadow.git"
    state = wt.create("w", info, work, shadow)
    run_git(work, "mv", "old_name.py", "new_name.py")
    (work / "untracked.txt").write_text("hello\n")
    (work / ".pynchy").mkdir()
    (work / ".pynchy" / "spill.txt").write_text("not the agent's work\n")
    snap = gdiff.compute("w", shadow, work, state)
    by_path = {f.path: f for f in snap.files}
    assert set(by_path) == {"new_name.py", "untracked.txt"}
    assert by_path["new_name.py"].status == "R" and by_path["new_name.py"].old_path == "old_name.py"
    assert by_path["untracked.txt"].lines == ("@@ -0,0 +1 @@", "+hello")
    assert snap.uncommitted == ("new_name.py", "untracked.txt")
    # git in the clone sees the same, and the spill dir is excluded there too
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=work, capture_output=True, text=True
    ).stdout
    assert ".pynchy" not in status and "untracked.txt" in status
    notice = idle_notice(snap, "main")
    assert notice is not None and "2 file(s) with uncommitted changes" in notice


def test_inspect_repo_explains_what_is_wrong(tmp_path: Path) -> None:
    import pytest

    with pytest.raises(wt.WorktreeError, match="does not exist"):
        wt.inspect_repo(tmp_path / "nope")
    (tmp_path / "plain").mkdir()
    with pytest.raises(wt.WorktreeError, match="not a git repository"):
        wt.inspect_repo(tmp_path / "plain")
    subprocess.run(["git", "init", "-q", str(tmp_path / "empty")], check=True)
    with pytest.raises(wt.WorktreeError, match="no commits yet"):
        wt.inspect_repo(tmp_path / "empty")
    repo = make_repo(tmp_path / "m", branch="master")
    assert wt.inspect_repo(repo).main == "master"
    with pytest.raises(wt.WorktreeError, match="no branch 'dev'"):
        wt.inspect_repo(repo, "dev")
