"""Mutation score of the pure core: how many small deliberate bugs do the fast tests catch?

Each mutant changes one thing in one module (a comparison, a boolean operator, an arithmetic
operator, a constant, a return value, a `not`), module-level constants included: the name patterns,
the family table and the limits are where a silent change does the most harm. A regular expression
gets two more: a digit class loosened (`\\d` → `\\w`: a near-miss name like `9.x` would pass) and a
flag dropped (`re.ASCII` → 0: `\\d` would match `٩`); the text of an f-string passed to `re.compile`
is mutated like any other constant (other f-strings are message text). The character set of a
`.strip(".")` call is emptied rather than wrapped in "XX" (an extra X changes nothing on lower-case
text). A mutant is *killed*
when a test that runs its line fails (or errors, or hangs past the time limit); it *survives* when they
all pass. The score of a module is killed / all, per module: `--fail-under` applies to each.

Left alone, because no test can tell the difference or another tool already holds the rule:
docstrings, annotations, imports, the arguments of log calls, and decorators
(`@dataclass(frozen=True)`, `@classmethod`: writing to a frozen field is a mypy --strict error, so
the type checker, not a test, holds that rule). A line that ends with `# equivalent mutant: <why>`
is left alone too, for a change no test could ever see (a placeholder overwritten before use); the
reason is required, so each such mark is reviewed like the code.

Only the tests that run a mutated line are run for it (one coverage run records which test runs
which line), each mutant in a forked child that imports the mutated module instead of the file on
disk, so nothing is ever written to the source tree.

    python -m tools.mutation                      # every module, the score of each
    python -m tools.mutation gallery_publisher.staging.vhd --survivors
    python -m tools.mutation --fail-under 90      # exit 1 when a module scores lower
"""

from __future__ import annotations

import argparse
import ast
import copy
import importlib.abc
import importlib.machinery
import importlib.util
import os
import signal
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parent.parent

# The pure core measured by issue 14, and the fast tests (no service started) that cover it.
MODULES = (
    "gallery_publisher.planning.image_names",
    "gallery_publisher.planning.families",
    "gallery_publisher.staging.vhd",
    "gallery_publisher.planning.plan",
    "gallery_publisher.jobs.request",
    "gallery_publisher.source.policy",
    "gallery_publisher.jobs.report",
)
FAST_TESTS = (
    "tests/unit/test_image_names.py",
    "tests/unit/test_families.py",
    "tests/integration/test_vhd_footer.py",
    "tests/unit/test_plan.py",
    "tests/unit/test_job_request.py",
    "tests/integration/test_source_policy.py",
    "tests/unit/test_report.py",
    "tests/unit/test_settings.py",
    "tests/unit/test_never_public.py",
    "tests/unit/test_source_policy_helpers.py",
    "tests/unit/test_limits.py",
    "tests/unit/test_image_names_edges.py",
    "tests/unit/test_families_rules.py",
    "tests/unit/test_vhd_rules.py",
    "tests/unit/test_plan_rules.py",
    "tests/unit/test_job_request_rules.py",
    "tests/unit/test_source_policy_rules.py",
    "tests/unit/test_report_rules.py",
    "tests/unit/test_error_codes.py",
)
SECONDS_PER_MUTANT = 60
# Marks a line where every mutant is equivalent; the reason follows the colon.
EQUIVALENT_MARK = "# equivalent mutant:"
# Calls whose arguments are only log text: a mutant there changes nothing a user relies on.
LOG_METHODS = frozenset({"debug", "info", "warning", "error", "exception"})

SWAPPED_OPERATORS: dict[type[ast.AST], type[Any]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.And: ast.Or,
    ast.Or: ast.And,
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.FloorDiv,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Mult,
    ast.Mod: ast.FloorDiv,
    ast.BitOr: ast.BitAnd,
    ast.BitAnd: ast.BitOr,
    ast.LShift: ast.RShift,
    ast.RShift: ast.LShift,
}


@dataclass(frozen=True)
class Mutant:
    module: str
    node_index: int  # position of the mutated node in ast.walk order
    variant: int  # which of the node's mutants (_variants)
    first_line: int
    last_line: int
    description: str


def _is_regex_compile(node: ast.AST) -> bool:
    """`re.compile(...)`: its pattern is behaviour, even when written as an f-string."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "compile"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "re"
    )


def _skipped_nodes(tree: ast.Module) -> set[int]:
    """Ids of nodes no mutant touches: docstrings, annotations, decorators, message f-strings, log
    arguments."""
    skipped: set[int] = set()
    patterns = {
        id(child)
        for node in ast.walk(tree)
        if _is_regex_compile(node)
        for argument in node.args[:1]  # type: ignore[attr-defined]
        for child in ast.walk(argument)
    }

    def skip(node: ast.AST | None) -> None:
        if node is not None:
            skipped.update(id(child) for child in ast.walk(node))

    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            for decorator in node.decorator_list:
                skip(decorator)
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        is_docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
        if is_docstring and isinstance(getattr(first.value, "value", None), str):  # type: ignore[union-attr]
            skip(first)
        if isinstance(node, ast.arg | ast.AnnAssign):
            skip(node.annotation)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            skip(node.returns)
        if isinstance(node, ast.JoinedStr) and id(node) not in patterns:
            skip(node)
        if isinstance(node, ast.ImportFrom | ast.Import):
            skip(node)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in LOG_METHODS
        ):
            skip(node)
    return skipped


def _constant_variant(value: object) -> tuple[Any, str] | None:
    if isinstance(value, bool):
        return (not value), f"{value} → {not value}"
    if isinstance(value, int):
        return value + 1, f"{value} → {value + 1}"
    if isinstance(value, float):
        return value * 2 + 1, f"{value} → {value * 2 + 1}"
    if isinstance(value, str):
        return f"XX{value}XX", f"{value[:30]!r} → 'XX…XX'"
    if isinstance(value, bytes):
        return b"XX" + value, f"{value[:20]!r} → b'XX…'"
    return None


REGEX_FLAGS = frozenset({"ASCII", "IGNORECASE", "MULTILINE", "DOTALL", "VERBOSE"})


STRIP_METHODS = frozenset({"strip", "lstrip", "rstrip"})


def _strip_sets(tree: ast.Module) -> set[int]:
    """Ids of the string constants that are the character set of a `.strip("/")`-like call."""
    return {
        id(node.args[0])
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in STRIP_METHODS
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    }


def _variants(node: ast.AST, strip_sets: set[int]) -> list[tuple[str, Any]]:
    """Every mutant of this node: (description, the new node)."""
    if id(node) in strip_sets:
        # A set of characters: wrapping it in "XX" only adds an upper-case X that the (mostly
        # lower-case) text never has, an equivalent mutant. Stripping nothing is the real change.
        value = node.value  # type: ignore[attr-defined]
        return [(f"strip set {value!r} → ''", ast.Constant(value=""))] if value else []
    found = _variant(node)
    variants = [found] if found is not None else []
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and "\\d" in node.value:
        # A regular expression's digit class loosened: would a near-miss name (`9.x`) pass?
        variants.append(("\\d → \\w", ast.Constant(value=node.value.replace("\\d", "\\w"))))
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "re"
        and node.attr in REGEX_FLAGS
    ):
        variants.append((f"re.{node.attr} → 0", ast.Constant(value=0)))
    return variants


def _variant(node: ast.AST) -> tuple[str, Any] | None:
    """The plain mutant of this node: (description, the new node), or None for no mutant."""
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in SWAPPED_OPERATORS:
        new_op = SWAPPED_OPERATORS[type(node.ops[0])]()
        return f"{type(node.ops[0]).__name__} → {type(new_op).__name__}", ast.Compare(
            left=node.left, ops=[new_op], comparators=node.comparators
        )
    if isinstance(node, ast.BoolOp):
        new_bool = SWAPPED_OPERATORS[type(node.op)]()
        return f"{type(node.op).__name__} → {type(new_bool).__name__}", ast.BoolOp(
            op=new_bool, values=node.values
        )
    if isinstance(node, ast.BinOp) and type(node.op) in SWAPPED_OPERATORS:
        new_bin = SWAPPED_OPERATORS[type(node.op)]()
        return f"{type(node.op).__name__} → {type(new_bin).__name__}", ast.BinOp(
            left=node.left, op=new_bin, right=node.right
        )
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return "not x → x", node.operand
    if isinstance(node, ast.Constant):
        changed = _constant_variant(node.value)
        if changed is not None:
            return changed[1], ast.Constant(value=changed[0])
    returns_none = isinstance(node, ast.Return) and isinstance(node.value, ast.Constant | None)
    if isinstance(node, ast.Return) and not (returns_none and getattr(node.value, "value", None) is None):
        return "return x → return None", ast.Return(value=ast.Constant(value=None))
    return None


def _equivalent_lines(source: str) -> set[int]:
    """Lines marked `# equivalent mutant: <why>`: no change there can alter behaviour (the reason
    is required, so the mark is reviewed like code)."""
    marked = set()
    for number, line in enumerate(source.splitlines(), 1):
        _, mark, why = line.partition(EQUIVALENT_MARK)
        if mark:
            if not why.strip():
                raise SystemExit(f"line {number}: {EQUIVALENT_MARK} needs the reason after it")
            marked.add(number)
    return marked


def find_mutants(module: str, source: str) -> list[Mutant]:
    tree = ast.parse(source)
    skipped = _skipped_nodes(tree)
    equivalent = _equivalent_lines(source)
    strip_sets = _strip_sets(tree)
    mutants = []
    for index, node in enumerate(ast.walk(tree)):
        if id(node) in skipped or getattr(node, "lineno", None) in equivalent:
            continue
        for variant, (description, _) in enumerate(_variants(node, strip_sets)):
            last = getattr(node, "end_lineno", None) or node.lineno  # type: ignore[attr-defined]
            mutants.append(Mutant(module, index, variant, node.lineno, last, description))  # type: ignore[attr-defined]
    return mutants


class _Replace(ast.NodeTransformer):
    def __init__(self, target: ast.AST, replacement: ast.AST) -> None:
        self.target = target
        self.replacement = replacement

    def generic_visit(self, node: ast.AST) -> ast.AST:
        if node is self.target:
            return ast.copy_location(self.replacement, node)
        return super().generic_visit(node)


def mutated_code(mutant: Mutant, source: str, filename: str) -> Any:
    tree = ast.parse(source)
    node = list(ast.walk(tree))[mutant.node_index]
    variants = _variants(node, _strip_sets(tree))
    assert mutant.variant < len(variants), "the mutant no longer matches its source"
    new_tree = _Replace(node, copy.deepcopy(variants[mutant.variant][1])).visit(tree)
    return compile(ast.fix_missing_locations(new_tree), filename, "exec")


class _MutantFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves one module from the mutated code instead of its file."""

    def __init__(self, name: str, path: str, code: Any) -> None:
        self.name, self.path, self.code = name, path, code

    def find_spec(
        self, fullname: str, path: Any, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.name:
            return None
        return importlib.util.spec_from_file_location(fullname, self.path, loader=self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        exec(self.code, module.__dict__)


def _forget_project_modules() -> None:
    for name in list(sys.modules):
        if name.split(".")[0] in {"gallery_publisher", "tests", "local", "activities", "orchestrators"}:
            del sys.modules[name]


def _run_pytest_quietly(arguments: list[str]) -> int:
    import pytest

    saved = os.dup(1), os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    try:
        return int(pytest.main([*arguments, "-q", "-p", "no:cacheprovider", "--no-header"]))
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)


def _warm_imports() -> None:
    """Import pytest, its plugins and every third-party module the tests use, once, before forking.

    Each child then imports only the project's own modules (hypothesis alone takes seconds).
    """
    _run_pytest_quietly(["--collect-only", *_existing(FAST_TESTS)])
    _forget_project_modules()


# --- which test runs which line ----------------------------------------------------------------


class _ContextPerTest:
    """A pytest plugin that names the coverage context after the running test's node id."""

    def __init__(self, cov: Any) -> None:
        self.cov = cov

    def pytest_runtest_setup(self, item: Any) -> None:
        self.cov.switch_context(item.nodeid)

    def pytest_runtest_teardown(self, item: Any) -> None:
        self.cov.switch_context("")


def record_coverage(data_file: Path, source_files: Sequence[str]) -> dict[str, dict[int, set[str]]]:
    """For each measured file: line → the tests that ran it. Runs the fast tests once, in a child."""
    import coverage

    pid = os.fork()
    if pid == 0:
        cov = coverage.Coverage(data_file=str(data_file), include=list(source_files))
        cov.start()
        import pytest

        code = pytest.main(
            [*_existing(FAST_TESTS), "-q", "-p", "no:cacheprovider", "--no-header"],
            plugins=[_ContextPerTest(cov)],
        )
        cov.stop()
        cov.save()
        os._exit(int(code))
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("the fast tests fail without any mutant: fix them first")
    data = coverage.CoverageData(basename=str(data_file))
    data.read()
    lines: dict[str, dict[int, set[str]]] = {}
    for filename in source_files:
        by_line = data.contexts_by_lineno(filename)
        lines[filename] = {line: set(contexts) for line, contexts in by_line.items()}
    return lines


def _existing(paths: Sequence[str]) -> list[str]:
    return [str(REPO / path) for path in paths if (REPO / path).exists()]


# --- running the mutants -------------------------------------------------------------------------


def tests_for(mutant: Mutant, lines: dict[int, set[str]]) -> list[str]:
    tests: set[str] = set()
    for line in range(mutant.first_line, mutant.last_line + 1):
        tests.update(lines.get(line, set()))
    if "" in tests:
        # Run at import (a module-level constant, the family table): any test of the pool may read
        # it, even one that runs no line of the module (iterating FAMILIES runs none), so all run.
        return _existing(FAST_TESTS)
    return sorted(tests)


def _start_mutant(mutant: Mutant, source: str, path: str, tests: list[str]) -> int:
    pid = os.fork()
    if pid:
        return pid
    try:
        signal.alarm(SECONDS_PER_MUTANT)
        _forget_project_modules()
        sys.meta_path.insert(0, _MutantFinder(mutant.module, path, mutated_code(mutant, source, path)))
        code = _run_pytest_quietly(["-x", *tests])
    except BaseException:
        code = 1
    os._exit(code)


def run_mutants(
    mutants: Sequence[Mutant],
    sources: dict[str, tuple[str, str]],
    lines: dict[str, dict[int, set[str]]],
    jobs: int,
) -> dict[Mutant, str]:
    """Each mutant's fate: killed, survived, or untested (no test runs its line)."""
    fates: dict[Mutant, str] = {}
    running: dict[int, Mutant] = {}
    queue: Iterator[Mutant] = iter(mutants)
    exhausted = False
    while running or not exhausted:
        while not exhausted and len(running) < jobs:
            mutant = next(queue, None)
            if mutant is None:
                exhausted = True
                break
            source, path = sources[mutant.module]
            tests = tests_for(mutant, lines[path])
            if not tests:
                fates[mutant] = "untested"
                continue
            running[_start_mutant(mutant, source, path, tests)] = mutant
        if running:
            pid, status = os.wait()
            mutant = running.pop(pid)
            # pytest exits 0 when every test passed; a signal (the time limit) counts as killed.
            fates[mutant] = "survived" if os.waitstatus_to_exitcode(status) == 0 else "killed"
    return fates


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("modules", nargs="*", default=list(MODULES))
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--survivors", action="store_true", help="list every mutant that survived")
    parser.add_argument(
        "--fail-under", type=float, default=0.0, help="exit 1 when a module scores lower (%%)"
    )
    args = parser.parse_args(argv)
    os.chdir(REPO)
    sys.path.insert(0, str(REPO))

    sources: dict[str, tuple[str, str]] = {}
    for module in args.modules:
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:
            raise SystemExit(f"no module {module}")
        sources[module] = (Path(spec.origin).read_text(), spec.origin)
    _forget_project_modules()

    started = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        lines = record_coverage(Path(scratch) / ".coverage", [path for _, path in sources.values()])
    mutants = [m for module in args.modules for m in find_mutants(module, sources[module][0])]
    _warm_imports()
    fates = run_mutants(mutants, sources, lines, args.jobs)

    by_module: dict[str, list[Mutant]] = defaultdict(list)
    for mutant in mutants:
        by_module[mutant.module].append(mutant)
    worst = 100.0
    print(f"{'module':40} {'mutants':>8} {'killed':>7} {'score':>7}")
    for module in args.modules:
        own = by_module[module]
        killed = sum(1 for m in own if fates[m] == "killed")
        score = 100.0 * killed / len(own) if own else 100.0
        worst = min(worst, score)
        print(f"{module:40} {len(own):8} {killed:7} {score:6.1f}%")
    total_killed = sum(1 for fate in fates.values() if fate == "killed")
    print(f"{'all':40} {len(mutants):8} {total_killed:7} {100.0 * total_killed / max(len(mutants), 1):6.1f}%")
    print(f"({time.monotonic() - started:.0f} s, {args.jobs} at a time)")
    if args.survivors:
        for mutant in mutants:
            if fates[mutant] != "killed":
                path = sources[mutant.module][1]
                print(f"{fates[mutant]:9} {os.path.relpath(path)}:{mutant.first_line}: {mutant.description}")
    return 1 if worst < args.fail_under else 0


if __name__ == "__main__":
    sys.exit(main())
