"""Why a program crashed, said in terms of its own code: one line the fixer reads under the traceback.

A small model shown ``AttributeError: 'list' object has no attribute 'add'`` at
``todo_list.add(text)`` sends the same code back (the 1.5B's todo list, three fix cycles in
two benches): the traceback names the symptom, and the cause is in another file, where
``load_todo_list()`` returns the JSON list. This module reads the program's sources (``ast``,
nothing runs) and names that cause where it can:

- an attribute a value lacks: where the value comes from (the assignment and the project
  function that makes it), which project class has that attribute, and the method the
  built-in type has instead (a list ``append``s); when the value is the project class its
  name says (``self.snake`` a ``Snake``), that class lacks the method: add it there;
- a call with the wrong arguments: the definition it calls, with its parameters and place;
- a name a project module does not have: what that module does define; a module used as
  the object its class makes (``ball.move()`` after ``import ball``): make the object.
- an attribute a method reads from ``self`` before any line of its class has set it (read in
  ``__init__`` on the line that sets it, or before the method that sets it ran): that line;
- a value called (``'bool' object is not callable``) where its class also defines a method of
  that name (``self.start_screen = True`` and ``def start_screen``): the value hides the method.
- a file the code names that nobody wrote (``FileNotFoundError``, or a choice from the empty list the
  program made when it was missing): send it, or keep its data in the code;
- a name used and never bound (``NameError``): the project module that defines it (import it), else
  that it is defined nowhere: a constant beside the constants named like it, before the line;
- a local read before it is set (``UnboundLocalError``) where it is a ``for`` loop's variable used
  after that loop: the loop over an empty list never set it (the 1.5B's flappy bird checked
  ``obstacle`` after ``for obstacle in self.obstacles:``, which starts empty): do it inside the loop;
- a ``KeyError``/``ValueError`` on a value that is (part of) an argument the run was given
  (``from_argument``): the line that reads it from the command line, where the program must
  handle it, rather than the function it crashed in (the 1.5B Roman converter, twice, read
  only numerals; told "change roman.py there first", its fixes added ``'1': 1`` to the table).

Every line is a fact read from the code or Python's data model, never a guess at intent.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Collection, Mapping, Sequence

from chatdev.checks.assets import named_files
from chatdev.checks.bindings import bindings, binds_anywhere, parse_sources

# what a built-in type has instead of a method small models reach for
INSTEAD: dict[tuple[str, str], str] = {
    ("list", "add"): "append", ("list", "push"): "append", ("list", "put"): "append",
    ("list", "length"): "len()", ("list", "size"): "len()", ("list", "get"): "[index]",
    ("list", "items"): "enumerate()", ("list", "remove_at"): "pop(index)", ("list", "delete"): "pop(index)",
    ("dict", "add"): "[key] = value", ("dict", "append"): "[key] = value", ("dict", "has_key"): "key in d",
    ("dict", "remove"): "pop(key)", ("dict", "length"): "len()",
    ("str", "append"): "+", ("str", "contains"): "in", ("str", "length"): "len()", ("str", "reverse"): "[::-1]",
    ("int", "append"): "a list", ("tuple", "append"): "a list", ("set", "append"): "add",
}
_ATTRIBUTE = re.compile(r"AttributeError: '(\w+)' object has no attribute '(\w+)'")
MODULE_ATTRIBUTE = re.compile(r"AttributeError: module '([\w.]+)' has no attribute '(\w+)'")
_CALL = re.compile(r"TypeError: ([\w.]+)\(\) (takes .*|missing .*|got an unexpected keyword argument .*)")
_IMPORT = re.compile(r"ImportError: cannot import name '(\w+)' from '([\w.]+)'")
_NOT_CALLABLE = re.compile(r"TypeError: '(\w+)' object is not callable")
_TYPE_NAMES = {"NoneType": "None"}
_NAME = re.compile(r"NameError: name '(\w+)' is not defined")
# the crash of a file that is not there, its name: read by triage too (a test that opens one)
NO_FILE = re.compile(r"FileNotFoundError: \[Errno 2\] No such file or directory: '([^'\n]+)'")
_INPUT_ERROR = re.compile(r"^(KeyError|ValueError)\b")
_QUOTED = re.compile(r"'([^'\n]{1,40})'")
# the Why line ``from_argument`` writes, read back by the fix prompt for the place to change first
ARGUMENT_READ = re.compile(r"^Why: '[^'\n]*' is (?:part of )?the argument `[^`\n]*` this run was given: "
                           r"([\w./-]+\.py) line (\d+) reads it \(`([^`\n]*)`\)", re.MULTILINE)


def explain(path: str, line: int, code: str, error: str, sources: Mapping[str, str], *,
            known: Collection[str] | None = None) -> list[str]:
    """Lines naming the cause of ``error`` raised at ``path``:``line`` (``code``), from ``sources``
    (``known``: every file of the project, when the caller has them)."""
    trees = parse_sources(sources)
    if _EMPTY.search(error) and known is not None:
        return _empty_from_missing(trees, set(known))
    if m := _ATTRIBUTE.search(error):
        return _missing_attribute(m.group(1), m.group(2), path, line, code, trees)
    if m := MODULE_ATTRIBUTE.search(error):
        return _module_not_object(m.group(1), m.group(2), trees) or _module_lacks(m.group(1), m.group(2), trees)
    if m := _IMPORT.search(error):
        return _module_lacks(m.group(2), m.group(1), trees)
    if m := _CALL.search(error):
        return _wrong_call(m.group(1), trees)
    if m := _NOT_CALLABLE.search(error):
        return _hidden_method(m.group(1), path, code, trees)
    if m := NO_FILE.search(error):
        return _missing_file(m.group(1), trees)
    if m := _NAME.search(error):
        return _undefined(m.group(1), path, line, trees)
    if m := _UNBOUND.search(error):
        return _after_loop(m.group(1), path, line, trees)
    return []


_UNBOUND = re.compile(r"UnboundLocalError: (?:cannot access local variable|local variable) '(\w+)'")


def _after_loop(name: str, path: str, line: int, trees: Mapping[str, ast.Module]) -> list[str]:
    """Why a local was unset at ``line``: it is the variable of a ``for`` loop that ended before
    that line, in the same function, and nothing else in the function sets it."""
    tree = trees.get(path)
    fn = _enclosing(tree, line) if tree is not None else None
    if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return []
    loops = [node for node in ast.walk(fn) if isinstance(node, (ast.For, ast.AsyncFor))
             and name in {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}]
    others = [node for node in ast.walk(fn) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
              and node.id == name and not any(node in ast.walk(loop.target) for loop in loops)]
    before = [loop for loop in loops if (loop.end_lineno or loop.lineno) < line]
    if not before or others:
        return []
    loop = before[-1]
    over = ast.unparse(loop.iter)[:60]
    return [f"Why: `{name}` is the variable of the loop `for {ast.unparse(loop.target)} in {over}:` ({path} line "
            f"{loop.lineno}), and line {line} uses it after the loop: when `{over}` is empty the loop never runs "
            f"and `{name}` is never set. Do what line {line} does inside the loop, for each `{name}`."]


def _undefined(name: str, path: str, line: int, trees: Mapping[str, ast.Module]) -> list[str]:
    """Where a name the program uses and never binds could come from: another project module that
    defines it (import it), else nowhere: define it before the line, named like its neighbours.

    Seen on the 1.5B snake (2026-12-07, ``make demo``): ``pygame.font.Font(None, HIGH_SCORE_SIZE)``
    beside ``SCORE_SIZE = 30``; the fixer answered "it should be defined in snake.py", rewrote
    snake.py without it, and the game died on the same NameError through the review loop and the
    test loop."""
    for other, tree in trees.items():
        if other != path and name in bindings(tree).public():
            module = other[:-3].replace("/", ".")
            return [f"Why: `{name}` is defined in {other}, which {path} does not import from: add "
                    f"`from {module} import {name}` at the top of {path}."]
    tree = trees.get(path)
    if tree is None or any(binds_anywhere(t, name) for t in trees.values()):
        return []  # bound somewhere, a local of another function say (repair/params.py's case)
    if name.isupper():
        suffix = name.rsplit("_", 1)[-1]
        alike = [n for n in bindings(tree).assigned if n.isupper() and n != name and n.endswith("_" + suffix)]
        values = {n: ast.unparse(node.value) for node in tree.body if isinstance(node, ast.Assign)
                  for t in node.targets if isinstance(t, ast.Name) and (n := t.id) in alike}
        like = ", ".join(f"`{n} = {v[:30]}`" for n, v in list(values.items())[:3])
        return [f"Why: the constant `{name}` is defined nowhere in the program: add `{name} = ...` to {path}'s "
                f"constants, above line {line} where it is used" + (f" (beside {like})" if like else "") + "."]
    return [f"Why: `{name}` is defined nowhere in the program (no assignment, def, class or import binds it): "
            f"define it before {path} line {line}, or use the name the program has for it."]


def _missing_file(name: str, trees: Mapping[str, ast.Module]) -> list[str]:
    """A file the code names that the project does not have: the 1.5B's and the 0.5B's hangman
    (2026-12-06, 2026-12-07) read a words.txt nobody wrote, and four fixes made its path absolute,
    then returned [] for it, and the game died in ``random.choice([])``."""
    named = {n for n in named_files(trees) if name == n or name.endswith("/" + n)}
    if not named:
        return []
    rel = min(named, key=len)
    return [f"Why: the project has no {rel}: nobody wrote it. {_SEND_IT.format(rel=rel)}"]


_SEND_IT = ("If the program only reads it, send {rel} in your reply as a file of its own (its path on one line, "
            "then its content in a block), or keep its data in the code; if the program writes it, let a missing "
            "{rel} mean an empty start.")
# what a program's data looks like when the file it fills it from is not there
_EMPTY = re.compile(r"IndexError: Cannot choose from an empty sequence|ValueError: (?:max|min)\(\) "
                    r"(?:arg|iterable argument) is an empty sequence")
_DATA = (".txt", ".json", ".csv", ".dat")


def _empty_from_missing(trees: Mapping[str, ast.Module], known: set[str]) -> list[str]:
    """A choice from an empty list where the program names a data file the project does not have.

    The second half of the hangman above: its fix made the missing words.txt an empty list, and
    the game died in ``random.choice([])`` four cycles running, each fix changing utils.py's
    loader again (the 1.5B, 2026-12-07)."""
    absent = sorted(n for n in named_files(trees) if n.endswith(_DATA) and n not in known
                    and not any(k.endswith("/" + n) for k in known))
    if not absent:
        return []
    rel = absent[0]
    return [f"Why: the sequence is empty, and the program reads it from {rel}, which the project does not have: "
            f"nobody wrote it. {_SEND_IT.format(rel=rel)}"]


def from_argument(error: str, args: Sequence[str], sources: Mapping[str, str], entry: str) -> list[str]:
    """A crash on a value the command line gave: where the program reads that argument.

    ``error`` is the exception line (``KeyError: '1'``), ``args`` the run's arguments (``['1994']``,
    the task's own example). Nothing when the value is not part of an argument, or when no line
    reads ``sys.argv[...]`` or ``parse_args(...)``.
    """
    if not args or not _INPUT_ERROR.match(error):
        return []
    values = [v for v in _QUOTED.findall(error) if v.strip() and any(v in arg for arg in args)]
    if not values:
        return []
    value = values[-1]
    arg = next(arg for arg in args if value in arg)
    read = _argument_read(sources, entry)
    if read is None:
        return []
    path, line, code = read
    part = "the argument" if value == arg else "part of the argument"
    return [f"Why: '{value}' is {part} `{arg}` this run was given: {path} line {line} reads it (`{code}`). "
            f"Make the program handle that argument where it reads it, rather than changing the function "
            f"it crashed in."]


def _argument_read(sources: Mapping[str, str], entry: str) -> tuple[str, int, str] | None:
    """(file, line, code) of the first line that reads an argument: ``x = sys.argv[1]``, ``parse_args()``."""
    for path in sorted(sources, key=lambda p: (p != entry, p)):
        if not path.endswith(".py"):
            continue
        for number, text in enumerate(sources[path].splitlines(), 1):
            code = text.strip()
            if code.startswith("#"):
                continue
            if re.search(r"\bsys\.argv\s*\[", code) or re.search(r"\.parse_args\s*\(", code):
                return path, number, code[:100]
    return None


def _missing_attribute(kind: str, attr: str, path: str, line: int, code: str,
                       trees: dict[str, ast.Module]) -> list[str]:
    m = re.search(r"([A-Za-z_][\w.]*)\s*\.\s*" + re.escape(attr) + r"\b", code)
    receiver = m.group(1) if m else ""
    subject = f"`{receiver}`" if receiver else "the value"
    origin = _origin(receiver, path, line, trees) if receiver else ""
    if kind == "NoneType":
        returns = origin[:-1] + ", which returns None on this path: a missing `return`?)" if origin else ""
        return [f"Why: {subject} is None here{returns}, and None has no `{attr}`."]
    instead = INSTEAD.get((kind, attr))
    owners = _classes_with(attr, trees)
    own = _class_named(kind, trees, prefer=path)
    if own is not None and receiver == "self":
        early = _not_yet_set(kind, attr, path, line, own)
        if early:
            return [early]
    if own is not None and receiver.rsplit(".", 1)[-1].lower() == kind.lower():
        return [_lacks_method(subject, kind, attr, own, owners)]
    if not (origin or instead or owners):
        return []  # nothing the traceback does not say already
    a = "an" if kind[:1].lower() in "aeiou" else "a"
    text = (f"Why: {subject} is {a} {kind} here{origin}, and {a} {kind} has no `{attr}`"
            + (f" ({a} {kind} uses `{instead}`)" if instead else "") + ".")
    if owners:
        names = " or ".join(f"`{cls}`" for _, cls in owners[:2])
        where = ", ".join(sorted({rel for rel, _ in owners[:2]}))
        text += (f" {names} ({where}) {'has' if len(owners) == 1 else 'have'} `{attr}`: "
                 f"make {subject} {'a ' if len(owners) == 1 else 'one of those, a '}"
                 f"{names if len(owners) == 1 else 'class instance'}, or use the {kind}'s own methods.")
    return [text]


def _not_yet_set(kind: str, attr: str, path: str, line: int, own: tuple[str, ast.ClassDef]) -> str:
    """``self.attr`` read in a method of the class that sets it, before any line has set it: the
    1.5B snake's ``self.food = Food(randint(0, self.width - self.food.size), ...)`` in ``__init__``
    (2026-12-07: told "`Game` has `food`: make `self` a `Game`", five fixes sent the file back
    unchanged). Empty when the class never assigns ``self.attr``."""
    rel, node = own
    sets: list[tuple[int, str]] = []
    for method in node.body:
        if not isinstance(method, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for sub in ast.walk(method):
            targets = sub.targets if isinstance(sub, ast.Assign) else \
                [sub.target] if isinstance(sub, (ast.AnnAssign, ast.AugAssign)) else []
            if any(dotted(t) == f"self.{attr}" for t in targets):
                sets.append((sub.lineno, method.name))
    if not sets:
        return ""
    sets.sort()
    here = next((m.name for m in node.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))
                 and rel == path and m.lineno <= line <= (m.end_lineno or m.lineno)), "")
    where = f" (in `{kind}.{here}`)" if here else ""
    if rel == path and any(at == line for at, _ in sets):
        # read from the tree: ``code`` may be only the part the traceback marks (``self.food``)
        deeper = sorted({d for sub in ast.walk(node) if isinstance(sub, ast.Attribute)
                         and getattr(sub, "lineno", 0) == line and (d := dotted(sub)).startswith(f"self.{attr}.")},
                        key=lambda d: (-d.count("."), d))
        text = (f"Why: {rel} line {line}{where} sets `self.{attr}` and reads `self.{attr}` in its own right-hand "
                f"side, before it exists, so this line can never run as it is: rewrite it.")
        if deeper:
            name = "_".join(deeper[0].split(".")[1:]).upper()
            text += (f" Put a value that exists there in place of each `{deeper[0]}`: a constant such as "
                     f"`{name} = 10` at the top of {rel}, or an argument.")
        else:
            text += (" Build the value from the arguments, attributes set above it or constants, "
                     f"not from `self.{attr}`.")
        return text
    at, method = sets[0]
    return (f"Why: `self.{attr}` is read here{where} before any line has set it: class {kind} sets it first at "
            f"{rel} line {at} (in `{kind}.{method}`), which has not run yet. Set `self.{attr}` before this "
            f"line runs, or use a value that exists here.")


def _lacks_method(subject: str, kind: str, attr: str, own: tuple[str, ast.ClassDef],
                  owners: list[tuple[str, str]]) -> str:
    """A value that is the project class its name says (``self.snake`` a Snake) lacks ``attr``:
    the class needs it, not another type (seen on the 1.5B snake, 2026-12-03: told "make
    `self.snake` a `Food`", its fixes swapped Snake and Food for three cycles)."""
    rel, node = own
    methods = [n.name for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
               and not n.name.startswith("__")]
    others = list(dict.fromkeys(f"`{cls}.{attr}`" for _, cls in owners if cls != kind))[:2]
    text = (f"Why: {subject} is a {kind} here, as it should be, and class {kind} ({rel} line {node.lineno}) "
            f"defines no `{attr}`" + (f" (its methods: {', '.join(methods[:6])})" if methods else "") + ". "
            f"Add a `{attr}` method to class {kind}" + (f", written like {' or '.join(others)}" if others else "")
            + f", or call one of {kind}'s own methods instead; keep {subject} a {kind}.")
    return text


def _class_named(name: str, trees: dict[str, ast.Module], *, prefer: str = "") -> tuple[str, ast.ClassDef] | None:
    """The project's class ``name``: the one in ``prefer`` (the crashing file) first, where a
    file's copy of a class stands for the one the crash ran (the 1.5B snake had a Snake in
    main.py, snake.py and food.py, and the fixes went to food.py's)."""
    for rel, tree in sorted(trees.items(), key=lambda item: (item[0] != prefer, item[0])):
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and node.name == name:
                return rel, node
    return None


def _origin(receiver: str, path: str, line: int, trees: dict[str, ast.Module]) -> str:
    """`` (from `load()` in utils.py line 3)``: the last assignment to ``receiver`` before ``line``."""
    tree = trees.get(path)
    if tree is None:
        return ""
    scope = _enclosing(tree, line)
    last: tuple[int, ast.expr | None] = (0, None)
    for node in ast.walk(scope):
        if isinstance(node, ast.Assign):
            targets, value = list(node.targets), node.value
        elif isinstance(node, ast.AnnAssign):
            targets, value = [node.target], node.value
        else:
            continue
        if last[0] < node.lineno < line and any(dotted(t) == receiver for t in targets):
            last = (node.lineno, value)
    value = last[1]
    if not isinstance(value, ast.Call):
        return ""
    called = dotted(value.func)
    if not called:
        return ""
    found = _definition(called.rsplit(".", 1)[-1], trees)
    at = f" in {found[0]} line {found[1].lineno}" if found else ""
    return f" (it comes from `{called}()`{at})"


def _enclosing(tree: ast.Module, line: int) -> ast.AST:
    best: ast.AST = tree
    for node in ast.walk(tree):
        inside = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and \
            node.lineno <= line <= (node.end_lineno or node.lineno)
        if inside and (best is tree or node.lineno >= getattr(best, "lineno", 0)):
            best = node
    return best


def dotted(node: ast.expr) -> str:
    """``a.b.c`` for a name or an attribute chain of names; "" for anything else (a call, a subscript)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = dotted(node.value)
        return f"{inner}.{node.attr}" if inner else ""
    return ""


def _classes_with(attr: str, trees: dict[str, ast.Module]) -> list[tuple[str, str]]:
    """(file, class) for each project class defining ``attr`` (a method, or ``self.attr = ...``)."""
    out: list[tuple[str, str]] = []
    for rel, tree in sorted(trees.items()):
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            if attr in members(node):
                out.append((rel, node.name))
    return out


def _definition(name: str, trees: dict[str, ast.Module],
                cls: str | None = None) -> tuple[str, ast.FunctionDef | ast.AsyncFunctionDef] | None:
    """The project's ``def name`` (in class ``cls`` when given; top-level functions first)."""
    for rel, tree in sorted(trees.items()):
        if cls is None:
            for node in tree.body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
                    return rel, node
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and (cls is None or node.name == cls):
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name == name:
                        return rel, item
    return None


def _wrong_call(qualified: str, trees: dict[str, ast.Module]) -> list[str]:
    cls, _, name = qualified.rpartition(".")
    found = _definition(name, trees, cls or None)
    if found is None and not cls:  # `Snake() takes ...`: the class's __init__
        found = _definition("__init__", trees, name)
    if found is None:
        return []
    rel, node = found
    params = ast.unparse(node.args)
    owner = cls or (name if node.name == "__init__" else "")
    called = f"`{owner}.{node.name}`" if owner else f"`{node.name}`"
    text = (f"Why: {called} is defined at {rel} line {node.lineno} as `def {node.name}({params})`: "
            "make the call match it, or change the definition.")
    return [text]


def _module_lacks(module: str, name: str, trees: dict[str, ast.Module]) -> list[str]:
    rel = module.replace(".", "/") + ".py"
    tree = trees.get(rel)
    if tree is None:
        return []
    names = sorted(bindings(tree).all())
    listed = ", ".join(f"`{n}`" for n in names[:12]) or "nothing"
    return [f"Why: {rel} defines {listed}, but no `{name}`: use what it defines, or add `{name}` to {rel}."]


def _module_not_object(module: str, attr: str, trees: dict[str, ast.Module]) -> list[str]:
    """``ball.move()`` after ``import ball``, where ``move`` is a method of ball.py's class: the
    module was used as the object. Seen on the 1.5B breakout (2026-12-03): told "ball.py
    defines `Ball`, but no `move`: add `move` to ball.py", three fixes sent ball.py back as it was."""
    rel = module.replace(".", "/") + ".py"
    tree = trees.get(rel)
    if tree is None or attr in bindings(tree).all():
        return []
    owners = [node for node in tree.body if isinstance(node, ast.ClassDef) and attr in members(node)]
    if not owners:
        return []
    cls = owners[0]
    short = module.rsplit(".", 1)[-1]
    init = next((n for n in cls.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                 and n.name == "__init__"), None)
    args = ", ".join(a.arg for a in init.args.args[1:]) if init else ""
    text = (f"Why: `{short}` here is the module {rel}, not an object: `{attr}` belongs to its class "
            f"`{cls.name}` ({rel} line {cls.lineno}).")
    copies = sorted(other for other, t in trees.items() if other != rel
                    and any(isinstance(n, ast.ClassDef) and n.name == cls.name for n in t.body))
    if cls.name.lower() != short.lower() and copies:
        return [text + f" That class is a copy of {copies[0]}'s `{cls.name}`: {rel} has no class of its own. "
                       f"Write {rel}'s own class, then make one object of it before it is used."]
    return [text + f" Make the object once, before it is used: `from {module} import {cls.name}`, then "
                   f"`{short} = {cls.name}({args})` with those values, and call `{short}.{attr}()` on it."]


def _hidden_method(kind: str, path: str, code: str, trees: dict[str, ast.Module]) -> list[str]:
    """``self.start_screen()`` where the class also sets ``self.start_screen = True``: the value
    hides the method on the object (the 1.5B snake, 2026-12-06, all four candidates)."""
    tree = trees.get(path)
    if tree is None:
        return []
    for name in re.findall(r"\.(\w+)\s*\(", code):
        for cls in ast.walk(tree):
            if not isinstance(cls, ast.ClassDef):
                continue
            method = next((n for n in cls.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                           and n.name == name), None)
            stores = self_stores(cls, name)
            if method is None or not stores:
                continue
            store = stores[0]
            a = "an" if kind[:1].lower() in "aeiou" else "a"
            return [f"Why: class {cls.name} ({path}) has both `def {name}` (line {method.lineno}) and "
                    f"`{ast.unparse(store).strip()}` (line {store.lineno}): on the object the value replaces "
                    f"the method, so `self.{name}` is {a} {kind} here. Give the value another name "
                    f"(`self.is_{name}`) everywhere it is set or tested, and keep the method."]
    return []


def self_stores(cls: ast.ClassDef, name: str) -> list[ast.Assign]:
    """The ``self.name = ...`` assignments in a class's code, in the order ``ast.walk`` meets them."""
    return [n for n in ast.walk(cls) if isinstance(n, ast.Assign) and any(is_self_attr(t, name) for t in n.targets)]


def is_self_attr(node: ast.AST, name: str | None = None) -> bool:
    """Whether ``node`` is ``self.<name>`` (any attribute of ``self`` when ``name`` is None)."""
    return isinstance(node, ast.Attribute) and (name is None or node.attr == name) \
        and isinstance(node.value, ast.Name) and node.value.id == "self"


def members(node: ast.ClassDef) -> set[str]:
    """A class's methods and the ``self.x = ...`` fields its code assigns (``self.x, self.y = ...`` too)."""
    methods = {n.name for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    targets = [t for n in ast.walk(node) if isinstance(n, (ast.Assign, ast.AnnAssign, ast.AugAssign))
               for t in (n.targets if isinstance(n, ast.Assign) else [n.target])]
    leaves = [leaf for t in targets for leaf in (t.elts if isinstance(t, (ast.Tuple, ast.List)) else [t])]
    fields = {t.attr for t in leaves if isinstance(t, ast.Attribute) and is_self_attr(t)}
    return methods | fields
