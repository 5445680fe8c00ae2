"""Function extents per language: Python's ast, JS/TS through the vendored parser, braces."""
import shutil
import textwrap

import pytest

from perfgate import extents

NODE = pytest.mark.skipif(shutil.which("node") is None, reason="node not installed")

TS = textwrap.dedent("""\
    import { x } from './x';
    interface P { a: number }
    export function main(p: P): number {
      const f = (y: number) => {
        return y * 2;
      };
      return f(p.a);
    }
    class K<T> {
      private run(v: T): void {
        console.log(`}${v}`);
      }
    }
    export const render = function (s: string) { return s; };
    """)


def names(path):
    return [(f.name, f.start, f.end) for f in extents.functions(path)]


@NODE
def test_typescript_from_a_real_parser(tmp_path):
    (tmp_path / "a.ts").write_text(TS)
    assert names(tmp_path / "a.ts") == [("main", 3, 8), ("f", 4, 6), ("run", 10, 12),
                                        ("render", 14, 14)]
    assert extents.enclosing(tmp_path / "a.ts", 5).name == "f"
    assert extents.enclosing(tmp_path / "a.ts", 7).name == "main"
    assert extents.enclosing(tmp_path / "a.ts", 1) is None


@NODE
def test_javascript_names_as_v8_does(tmp_path):
    (tmp_path / "b.js").write_text(textwrap.dedent("""\
        const { marked } = require('marked');
        function render(src) {
          return marked.parse(src);
        }
        module.exports.go = () => render('x');
        const obj = { method() { return 1; } };
        """))
    assert names(tmp_path / "b.js") == [("render", 2, 4), ("go", 5, 5), ("method", 6, 6)]


def test_without_node_a_brace_scanner_degrades_gracefully(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))        # no node on PATH
    (tmp_path / "a.ts").write_text(TS)
    found = names(tmp_path / "a.ts")
    assert ("main", 3, 8) in found
    assert any("node is not installed" in n for n in extents.notes())


def test_brace_languages_skip_strings_chars_and_comments(tmp_path):
    (tmp_path / "m.rs").write_text(textwrap.dedent("""\
        /// Doc
        #[inline(never)]
        pub fn tokenize<'a>(s: &'a str) -> Vec<&'a str> {
            let q = '{';
            let m = "}{";
            s.split(' ').collect() // }
        }
        impl Foo {
            fn bar(&self) -> u32 { let x = { 1 }; x
            }
        }
        """))
    assert [(f.name, f.start, f.end, f.receiver) for f in extents.functions(tmp_path / "m.rs")] \
        == [("tokenize", 1, 7, ""), ("bar", 9, 10, "Foo")]
    (tmp_path / "m.go").write_text(textwrap.dedent("""\
        package main

        func (s *S) Run(n int) int {
        \tx := '}'
        \treturn n + int(x)
        }

        func slow(n int) int {
        \treturn len(`}`)
        }
        """))
    assert [(f.name, f.start, f.end, f.receiver) for f in extents.functions(tmp_path / "m.go")] \
        == [("Run", 3, 6, "S"), ("slow", 8, 10, "")]
    (tmp_path / "m.c").write_text(textwrap.dedent("""\
        static int helper(int x);
        static int
        compute(int n)
        {
            int t = 0; /* } */
            for (int i = 0; i < n; i++) { t += i; }
            return t;
        }
        void Foo::bar(int x) const {
          helper(x,
             1);
        }
        """))
    assert [(f.name, f.start, f.end, f.receiver) for f in extents.functions(tmp_path / "m.c")] \
        == [("compute", 3, 8, ""), ("bar", 9, 12, "Foo")]


def test_python_extents_include_decorators(tmp_path):
    (tmp_path / "p.py").write_text("@cache\ndef f(x):\n    return x\n")
    assert names(tmp_path / "p.py") == [("f", 1, 3)]
    assert extents.extent(tmp_path / "p.py", "f", 2) == (1, 3)
    assert extents.extent(tmp_path / "p.py", "nope", 7) == (7, 7)
