#!/usr/bin/env python3
"""Writes cases.json: what Python's yaql (with Orquesta's functions) says about each expression.

orch's YAQL evaluator is compared against this file by `cargo test -p orch-workflow yaql_oracle`.
Regenerate (never in CI; the fixture is committed):

    python3 -m venv /tmp/yaql-oracle
    /tmp/yaql-oracle/bin/pip install yaql==3.2.0 orquesta==1.2.0
    /tmp/yaql-oracle/bin/python workflow/tests/yaql/generate.py

Each case is evaluated as Orquesta evaluates `<% expr %>`: yaql's default engine, a context with
Orquesta's functions registered and the workflow variables under `__vars` (what `ctx()` reads).
orch also binds `$` at the top to the context (Mistral's `$.x`; Orquesta leaves it null), so the
data is passed as yaql's `$` too, which makes `$.x` mean `ctx().x` here as in orch.
"""

import collections.abc  # noqa: F401  (yaql 3.2 uses it without importing it)
from importlib import metadata
import json
import math
import sys
import types
from pathlib import Path

import yaql
import yaql.language.utils as yaql_utils
from orquesta.expressions.functions import common as orq_common

HERE = Path(__file__).resolve().parent

DATA = {
    "a": {"b": 1, "c": [1, 2], "d": {"e": "deep"}},
    "xs": [1, 2, 3],
    "ys": [3, 1, 2, 3],
    "fs": [1.5, 2.5],
    "s": "hello",
    "csv": "one, two, three",
    "n": None,
    "f": 1.5,
    "t": True,
    "zero": 0,
    "empty": [],
    "d": {},
    "words": ["b", "a", "c"],
    "mixed": [1, "a", None],
    "nested": [[1, 2], [3, [4, 5]]],
    "vms": [
        {"name": "vmweb1", "region": "us-east", "role": "web", "cpus": 2},
        {"name": "vmdb1", "region": "us-east", "role": "db", "cpus": 8},
        {"name": "vmweb2", "region": "us-west", "role": "web", "cpus": 4},
        {"name": "vmdb2", "region": "us-west", "role": "db", "cpus": 16},
    ],
    "hosts": ["r1", "r2"],
    "json_text": '{"k": [1, 2], "v": null}',
    "tpl": "<% ctx().s %>",
    "big": 9007199254740993,
}

# Deliberate deviations: orch's outcome differs from yaql's, for the reason given. `orch` is what
# orch must produce instead: {"value": ...} or {"error": true}.
DEVIATIONS = {
    "$.a.keys()": ("yaql returns a Python set (random order for strings); orch a list in dict order", {"value": ["b", "c", "d"]}),
    "$.a.values()": ("yaql returns a dict view; orch a list in dict order", {"value": [1, [1, 2], {"e": "deep"}]}),
    "set(1, 2)": ("Python sets have no JSON form; refused", {"error": True}),
    "now()": ("reads the clock; a run must replay to the same result; refused", {"error": True}),
    "random()": ("random numbers break replay; refused", {"error": True}),
    "regex('(?<=a)b').search('ab')": ("Rust's linear-time regex has no look-around; refused rather than hang on a hostile pattern", {"error": True}),
    "regex('(a)\\\\1').matches('aa')": ("no back-references in orch's regexes; refused", {"error": True}),
    "pow(2, 100)": ("yaql's integers are unbounded, orch's are 64-bit: overflow is an error", {"error": True}),
    "$.big + 1": ("same: 64-bit integers; within range this is exact", {"value": 9007199254740994}),
    "succeeded": ("a bare `succeeded` is the string 'succeeded' in yaql (always true); orch refuses it", {"error": True}),
    "[1, 2].select($).unpack(a, b) -> $a": ("unpack/with are not supported; use let", {"error": True}),
    "sequence().take(3)": ("endless generators are refused", {"error": True}),
    "$.a.items()": ("yaql 3.2 builds a set of pairs (failing on list values, unordered otherwise); orch gives [key, value] pairs in dict order", {"value": [["b", 1], ["c", [1, 2]], ["d", {"e": "deep"}]]}),
    "{a => 1, b => 2}.items()": ("same", {"value": [["a", 1], ["b", 2]]}),
    "$": ("orch binds $ to the context (Orquesta leaves it null); same as ctx()", None),
}

CASES = [
    # literals and keyword strings
    "1", "1.5", "0.25", "100000", "'single'", '"double"', "`verbatim\\d`", "true", "false", "null",
    "abc", "some_word", "[]", "[1, 'a', null]", "{}", "{a => 1, b => [2]}", "{1 => 2}",
    "{a => 1, a => 2}", "'it\\'s'", '"tab\\there"', "'\\d+'", "'\\x41\\u00e9'",
    # dollar and context
    "$", "$.xs", "$.a.b", "$.a.d.e", "$.a['b']", "$.a[b]", "$.xs[0]", "$.xs[-1]", "$.xs[3]",
    "$.xs[-4]", "$.a.missing", "$.a.missing.x", "$.n.x", "$.s.x", "$.xs.b", "$.vms.name",
    "$.vms[0].name", "$.vms.role.distinct()", "$.nested[1][1][0]", "$.a['missing', 5]",
    "$.a[missing]", "$.s[0]", "$.xs['0']", "$.xs[1.0]", "$undefined", "$.n?.x", "$.a?.b",
    "null?.x", "$.xs.(1 + 1)",
    # Orquesta's functions
    "ctx()", "ctx().xs", "ctx(xs)", "ctx('s')", 'ctx("f")', "ctx(a).b", "ctx().a.c[1]",
    "ctx(missing)", "ctx().missing", "ctx(ctx(s))", "ctx(1)", "ctx(a, b)",
    "json('{\"a\": 1}')", "json(ctx(json_text))", "json(ctx(json_text)).k", "json($.a)",
    "json('not json')", "json(1)",
    "zip($.xs, $.words)", "zip($.xs, ['a'])", "zip($.xs, ['a'], pad => 0)", "zip($.xs)",
    "zip($.xs, null)",
    "ctx(tpl)",
    # arithmetic
    "1 + 2", "1 + 2.0", "1.5 + 1.5", "5 - 7", "2 * 3", "2 * 1.5", "7 / 2", "-7 / 2", "7 / -2",
    "7.0 / 2", "6 / 3", "1 / 0", "1.0 / 0", "7 mod 3", "-7 mod 3", "7 mod -3", "7.5 mod 2",
    "5 mod 0", "-$.f", "-(1)", "+3", "- - 2", "-'a'", "+'a'", "1 + 'a'", "'a' + 1", "'a' + 'b'",
    "'ab' * 3", "3 * 'ab'", "'ab' * 0", "'ab' * -1", "[1] * 3", "[1, 2] + [3]", "[1] + 'a'",
    "{a => 1} + {b => 2}", "{a => 1} + {a => 2}", "true + 1", "1 + true", "-true", "null + 1",
    "2 * 3 + 4", "2 + 3 * 4", "(2 + 3) * 4", "10 - 2 - 3", "100 / 10 / 5", "2 * 3 mod 4",
    "0.1 + 0.2", "1e3", ".5", "1.", "$.f * 2", "$.xs[0] + $.xs[1] * $.xs[2]",
    # comparison and equality
    "1 = 1", "1 = 1.0", "1 = '1'", "true = 1", "false = 0", "null = null", "null = false",
    "[1, 2] = [1, 2]", "[1, 2] = [2, 1]", "{a => 1} = {a => 1}", "'a' = 'a'", "1 != 2",
    "1 != 1.0", "1 < 2", "2 < 1.5", "'a' < 'b'", "'B' < 'a'", "'abc' < 'abd'", "1 < 'a'",
    "null < 1", "1 < null", "null < null", "null <= null", "null >= 1", "1 >= null",
    "true < false", "[1] < [2]", "1 <= 1", "2 >= 3", "1 > 0.5", "1 < 2 = true", "1 = 1 = true",
    "2 in $.xs", "5 in $.xs", "'ell' in 'hello'", "'x' in 'hello'", "'a' in $.words",
    "a in {a => 1}", "1 in 'abc'", "not 1 = 2", "not true", "not null", "not 'x'", "not []",
    "not 0", "1 = 2 or 2 = 2", "1 = 1 and 2 = 3", "not 1 = 1 and true",
    # boolean operators return operands
    "true and 0", "1 and 2", "null and 1", "0 or 'x'", "null or false", "'' or 'y'",
    "[] or [1]", "true or 1/0", "false and 1/0", "true and false or true",
    "true or false and false", "not false or false",
    # regex operators
    "'abc' =~ 'b'", "'abc' =~ '^b'", "'abc' !~ '^b'", "'abc' =~ '^a.c$'", "1 =~ '1'",
    "'a1' =~ '\\d'",
    # methods on collections
    "$.xs.len()", "len($.xs)", "len($.s)", "len($.a)", "len(null)", "len(5)", "$.xs.count()",
    "$.a.count()", "$.s.count()", "$.xs.select($ * 2)", "$.xs.select([$, $ * $])",
    "$.vms.select($.name)", "$.vms.select([$.name, $.role])",
    "$.vms.select($.region).distinct()", "$.vms.where($.region = 'us-east').select($.name)",
    "$.vms.where($.region = 'us-east' and $.role = 'web').select($.name)",
    "$.vms.where($.cpus > 4).len()", "$.xs.where($ > 1)", "$.xs.where(false)",
    "$.xs.select($.x)", "$.s.select($)", "select($.xs, $)", "$.xs.where()",
    "$.empty.select($)", "$.n.select($)",
    "let(my_region => 'us-east', my_role => 'web') -> $.vms.where($.region = $my_region and $.role = $my_role).select($.name)",
    "let(x => 1) -> $x", "let(x => 1, y => 2) -> $x + $y", "let(1, 2) -> $1 + $2",
    "let(x => 1) -> let(y => $x + 1) -> $y", "let(x => 1)",
    "$.xs.select($ + $1)",
    "dict(vms => dict($.vms.select([$.name, $.cpus])))", "dict($.xs.select([$, $ * $]))",
    "dict(a => 1, b => true)", "dict()", "dict([[a, 1], [b, 2]])", "dict([1, 2])",
    "$.xs.toDict($, $ * 10)", "$.vms.toDict($.name, $.cpus)", "$.vms.toDict($.name).vmdb1.cpus",
    "list(1, 2, 3)", "list(abc, def)", "list($.xs)", "list()", "list(abc, def) + list(ijk, xyz)",
    "$.xs.first()", "$.empty.first()", "$.empty.first(null)", "$.empty.first(0)",
    "$.xs.last()", "$.empty.last()", "$.xs.first(9)", "[5].single()", "$.xs.single()",
    "$.xs.skip(1)", "$.xs.skip(10)", "$.xs.take(2)", "$.xs.limit(1)", "$.xs.take(-1)", "$.xs.skip(-1)",
    "$.xs.reverse()", "$.xs.sum()", "$.fs.sum()", "[1, 2.5].sum()", "$.empty.sum()",
    "$.words.sum()", "$.xs.sum(10)", "[[1], [2]].sum()", "$.xs.max()", "$.xs.min()",
    "$.words.max()", "$.mixed.max()", "$.empty.max()", "$.empty.max(0)", "max(1, 2)",
    "max(2.5, 2)", "max(2, 2.0)", "max(null, 1)", "max(1, 'a')", "[1, 1.0].max()",
    "[1.0, 1].max()", "[2, 2.0].min()", "min(1, 2)", "min(3, 3.0)", "max(1, 2, 3)", "max([1, 2])", "max('a', 'b')",
    "$.xs.contains(2)", "$.xs.contains(5)", "$.words.contains('a')", "$.s.contains('e')",
    "$.xs.indexOf(2)", "$.xs.indexOf(9)", "$.ys.lastIndexOf(3)", "$.s.indexOf('l')",
    "$.s.indexOf('z')", "$.xs.any()", "$.empty.any()", "$.xs.any($ > 2)", "$.xs.all($ > 0)",
    "$.mixed.all()", "any($.xs)", "all([])", "$.xs.isEmpty()", "$.empty.isEmpty()",
    "isEmpty(null)", "isEmpty('')", "$.s.isEmpty()", "$.d.isEmpty()", "isEmpty(0)",
    "isEmpty([])",
    "$.nested.flatten()", "[1, [2, [3, [4]]]].flatten()", "$.xs.flatten()",
    "$.ys.distinct()", "$.vms.distinct($.region).select($.name)", "distinct($.ys)",
    "[1, 1.0, true, 'a', 'a'].distinct()", "[[1], [1], [2]].distinct()",
    "$.xs.orderBy(-$)", "$.words.orderBy($)", "$.vms.orderBy($.cpus).select($.name)",
    "$.vms.orderByDescending($.cpus).select($.name)", "$.mixed.orderBy($)",
    "$.vms.orderBy([$.region, $.name]).select($.name)",
    "$.xs.groupBy($ mod 2)", "$.vms.groupBy($.region, $.name)",
    "$.vms.groupBy($.role, $.cpus, [$[0], $[1].sum()])",
    "$.xs.selectMany([$, $])", "$.nested.selectMany($)", "$.xs.takeWhile($ < 3)",
    "$.xs.skipWhile($ < 2)", "$.xs.indexWhere($ > 1)", "$.xs.indexWhere($ > 5)",
    "$.xs.append(4)", "$.xs.append(4, 5)", "$.xs.concat([4], [5])", "concat($.xs, [4])",
    "concat('a', 'b', 'c')", "concat()", "$.xs.enumerate()", "$.words.enumerate(1)",
    "$.xs.zip($.words)", "$.xs.zip([1])", "$.xs.toList()", "$.a.toList()",
    "range(3)", "range(1, 5)", "range(1, 10, 3)", "range(5, 1, -2)", "range(0)",
    "range(1, 5, 0)", "range(-3)",
    # dicts
    "$.a.keys()", "$.a.values()", "$.a.items()", "{a => 1, b => 2}.items()", "$.a.get(b)", "$.a.get('missing')",
    "$.a.get(missing, 5)", "$.a.containsKey(b)", "$.a.containsKey(z)", "$.a.containsValue(1)",
    "$.a.set(z, 9)", "$.a.set(b, 2).b", "$.d.set(k => 1)", "$.a.set({b => 5}).b",
    "$.a.delete(b)", "$.a.delete(b, c).keys()", "{a => 1}.get(a)", "$.xs.get(0)",
    "$.a.len()", "dict(a => 1).keys()",
    # strings
    "$.s.toUpper()", "'ABC'.toLower()", "' a b '.trim()", "'xxaxx'.trim('x')",
    "'  a'.trimLeft()", "'a  '.trimRight()", "'--a--'.trimLeft('-')", "$.s.startsWith('he')",
    "$.s.startsWith('x', 'h')", "$.s.endsWith('lo')", "$.s.endsWith('x')",
    "$.s.replace('l', 'L')", "$.s.replace('l', 'L', 1)", "$.s.replace('', '-')",
    "'a,b,,c'.split(',')", "'a b  c'.split()", "'a,b,c'.split(',', 1)",
    "'a,b,c'.rightSplit(',', 1)", "$.csv.split(',').select($.trim())",
    "$.csv.split(',').select(str($).trim())", "'abc'.split('')", "$.s.substring(1)",
    "$.s.substring(1, 2)", "$.s.substring(-3)", "$.s.substring(10)", "$.s.substring(1, -1)",
    "$.s.len()", "$.s.toCharArray()", "['a', 'b'].join(',')", "','.join(['a', 'b'])",
    "[1, null, true, 'a', 1.5].join('-')", "$.xs.join(', ')", "[[1, 2], 'x'].join(';')",
    "join(['a'], ',')", "$.s.matches('^h')", "$.s.matches('z')",
    "regex('l+').search($.s)", "regex('z').search($.s)", "regex('l').searchAll($.s)",
    "regex('h.*').matches($.s)", "regex('H', ignoreCase => true).matches($.s)",
    "regex('[').matches('a')", "regex('l').replace($.s, 'L')", "regex('(l+)').replace($.s, '<\\\\1>')",
    "regex(',\\\\s*').split($.csv)", "$.csv.split(regex(',\\\\s*'))", "'a1b22c'.replace(regex('\\\\d+'), '#')",
    "regex('a')", "str(regex('a'))",
    # conversions
    "str(1)", "str(1.5)", "str(1.0)", "str(null)", "str(true)", "str(false)", "str('x')",
    "str([1, [2]])", "str([])", "str([1])", "str($.a)", "str({a => [1, 'x']})", "str(0.1)",
    "str(1000000.0)", "str(1e16)", "int('3')", "int(' 42 ')", "int('2.5')", "int(2.7)",
    "int(-2.7)", "int(true)", "int(null)", "int('x')", "int([1])", "float('1.5')",
    "float(' 2 ')", "float(3)", "float(null)", "float('x')", "float(true)", "bool(0)",
    "bool(1)", "bool('')", "bool('false')", "bool([])", "bool([0])", "bool(null)", "bool({})",
    "abs(-3)", "abs(-2.5)", "abs('a')", "pow(2, 10)", "pow(2, 0.5)", "pow(2, -1)",
    "round(2.567, 2)", "round(2.5)", "round(3.5)", "round(3)", "round(-2.5)", "round(1234.5, -2)",
    "sign(-3)", "sign(0)", "sign(2.5)", "isString('a')", "isString(1)", "isList($.xs)",
    "isList($.a)", "isDict($.a)", "isNumber(1.5)", "isNumber(true)", "isInteger(1)",
    "isInteger(1.0)", "isBoolean(false)", "coalesce(null, 2, 3)", "coalesce(null)",
    "coalesce()",
    # shapes from Orquesta's fixtures and unit tests
    "not $.s in list(hello, x)", "true and not ctx().s in list(a, b)", "ctx(t) = true",
    "ctx().xs[0] + ctx(xs)[1]", "ctx(ctx().s)", "ctx().a.get(b)", "ctx(a).get(zz)",
    "ctx().vms[0].name", "ctx().vms.select($.name)", "ctx(vms)[1]['role']",
    "zip(ctx(hosts), ctx(xs))", "zip(ctx(hosts), ctx(xs), pad => 'none')",
    "str(ctx(zero)) + '-' + str(ctx(f))", "ctx().xs.len() > 0 and ctx(s) != ''",
    "len(ctx(hosts)) > 0", "ctx().s = 'a'", "ctx(csv).split(', ')",
    # calls the wrong way and unknown names
    "keys($.a)", "$.xs.str()", "lenght($.xs)", "$.xs.lenght()", "foo()", "$.xs.foo(1)",
    "st2kv('x')", "now()", "random()", "set(1, 2)", "format('{0}-{1}', 1, 2)",
    "'{0}-{1}'.format(1, 2)", "regex('(?<=a)b').search('ab')", "regex('(a)\\\\1').matches('aa')",
    "pow(2, 100)", "$.big + 1", "succeeded", "[1, 2].select($).unpack(a, b) -> $a",
    "sequence().take(3)",
    # syntax errors
    "1 +", "(1", "1)", "[1, 2", "{a 1}", "{a => }", "$.", "1 2", "'unterminated", "%",
    "a = = b", "f(,1)", "$.xs.select(", "==", "__x", "1a", "$x.", "a => 1", "[a => 1]",
    "f(a => 1, 2)", "",
]


def convert(v):
    """yaql's output as JSON; sets are flagged so the test compares them without order."""
    if isinstance(v, (set, frozenset)):
        raise Unordered(sorted((convert(x) for x in v), key=json.dumps))
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            raise TypeError("not a JSON number")
        return v
    if isinstance(v, collections.abc.Mapping):
        out = {}
        for k, x in v.items():
            key = k if isinstance(k, str) else json.dumps(k)
            out[key] = convert(x)
        return out
    if isinstance(v, (list, tuple, types.GeneratorType)) or yaql_utils.is_iterable(v):
        return [convert(x) for x in v]
    raise TypeError("not JSON data: %s" % type(v).__name__)


class Unordered(Exception):
    def __init__(self, items):
        self.items = items


def evaluate(engine, root, expr):
    ctx = root.create_child_context()
    ctx["__vars"] = yaql_utils.convert_input_data(DATA)
    try:
        result = engine(expr).evaluate(data=DATA, context=ctx)
        return {"value": convert(result)}
    except Unordered as u:
        return {"value": u.items, "unordered": True}
    except Exception as e:  # every failure counts: orch must fail too
        return {"error": "%s: %s" % (type(e).__name__, e)}


def function_names(context):
    """Every public function name of yaql's standard context (not the operators)."""
    names = set()
    c = context
    while c is not None:
        names |= set(getattr(c, "_functions", {}).keys())
        c = c.parent
    return sorted(n for n in names if not n.startswith(("#", "*")))


def main():
    engine = yaql.factory.YaqlFactory().create()
    root = yaql.create_context()
    root.register_function(orq_common.ctx_, name="ctx")
    root.register_function(orq_common.json_, name="json")
    root.register_function(orq_common.zip_, name="zip")
    seen = set()
    cases = []
    for expr in CASES:
        if expr in seen:
            continue
        seen.add(expr)
        case = {"expr": expr}
        case.update(evaluate(engine, root, expr))
        if expr in DEVIATIONS:
            reason, orch = DEVIATIONS[expr]
            case["deviation"] = reason
            if orch is not None:
                case["orch"] = orch
        cases.append(case)
    missing = set(DEVIATIONS) - seen
    if missing:
        sys.exit("deviations without a case: %s" % sorted(missing))
    out = {
        "about": "expected results of YAQL expressions, from Python yaql with Orquesta's functions; see generate.py",
        "yaql": metadata.version("yaql"),
        "orquesta": metadata.version("orquesta"),
        "command": "/tmp/yaql-oracle/bin/python workflow/tests/yaql/generate.py",
        "functions": function_names(yaql.create_context()),
        "data": DATA,
        "cases": cases,
    }
    (HERE / "cases.json").write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    print("%d cases" % len(cases))


if __name__ == "__main__":
    main()
