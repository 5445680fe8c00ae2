"""Native frames (no file, only a symbol) mapped to the project: Rust, Go, C and C++."""
import textwrap

import pytest

from perfgate import symbols
from perfgate.hotspots import rank
from perfgate.profiles import load


@pytest.fixture
def crate(tmp_path):
    (tmp_path / "Cargo.toml").write_text('[package]\nname = "rust-slow"\nedition = "2021"\n')
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.rs").write_text(textwrap.dedent("""\
        mod parse;
        struct Foo;
        impl std::fmt::Display for Foo {
            fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                write!(f, "foo")
            }
        }
        fn main() {
            let v: Vec<u64> = (0..10).map(|i| parse::tokenize(i)).collect();
            println!("{}", v.len());
        }
        """))
    (tmp_path / "src" / "parse.rs").write_text(textwrap.dedent("""\
        pub fn tokenize(x: u64) -> u64 {
            x * 2
        }
        """))
    return tmp_path


def test_rust_symbols_map_to_the_crates_code(crate):
    sm = symbols.symbol_map(crate)
    assert sm.crates == {"rust_slow"}
    at = sm.locate
    assert at("rust_slow::parse::tokenize") == symbols.Located("src/parse.rs", "tokenize", 1)
    assert at("rust_slow::parse::tokenize::h0123456789abcdef").file == "src/parse.rs"
    assert at("rust_slow::main::{{closure}}") == symbols.Located("src/main.rs", "main", 8)
    assert at("rust_slow::main::{closure#0}").function == "main"
    assert at("<rust_slow::Foo as core::fmt::Display>::fmt") == symbols.Located(
        "src/main.rs", "fmt", 4)
    assert at("core::ptr::drop_in_place<rust_slow::Foo>") is None
    assert at("std::io::stdio::_print") is None
    assert at("[unknown]") is None and at("???") is None


def test_a_collapsed_profile_starting_with_unknown_names_the_crates_main(crate):
    """The issue's items 7 and 8: `[unknown]` first was taken for JSON and refused, and
    `rust_slow::main` at 97% of the samples gave 0 hotspots."""
    (crate / "perf.folded").write_text(
        "[unknown];rust_slow::main 3\n"
        "_start;__libc_start_main;std::rt::lang_start;rust_slow::main;"
        "rust_slow::parse::tokenize 60\n"
        "_start;__libc_start_main;std::rt::lang_start;rust_slow::main;std::io::stdio::_print 34\n"
        "_start;_dl_start 3\n")
    spots = rank(load(crate / "perf.folded"), crate)
    assert [(h.function, h.file, h.line_start, h.line_end) for h in spots] == [
        ("tokenize", "src/parse.rs", 1, 3), ("main", "src/main.rs", 8, 11)]
    assert spots[1].self_share == pytest.approx(0.37)   # its own 3 + the library's 34
    assert spots[1].inclusive_share == pytest.approx(0.97)


def test_go_and_c_symbols(tmp_path):
    (tmp_path / "go.mod").write_text("module example.com/slowgo\n\ngo 1.19\n")
    (tmp_path / "main.go").write_text("package main\n\nfunc (s *S) Run() {\n}\n\n"
                                      "func slow() {\n}\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "p.go").write_text("package pkg\n\nfunc Parse() int {\n\treturn 1\n}\n")
    (tmp_path / "hash.c").write_text("unsigned\nhash(const char *s)\n{\n  return 0;\n}\n")
    (tmp_path / "w.cpp").write_text("int Widget::draw(int x) const {\n  return x;\n}\n")
    sm = symbols.symbol_map(tmp_path)
    assert sm.locate("main.slow") == symbols.Located("main.go", "slow", 6)
    assert sm.locate("main.(*S).Run") == symbols.Located("main.go", "Run", 3)
    assert sm.locate("main.main.func1") is None                 # no main() here
    assert sm.locate("example.com/slowgo/pkg.Parse") == symbols.Located("pkg/p.go", "Parse", 3)
    assert sm.locate("fmt.Println") is None
    assert sm.locate("hash") == symbols.Located("hash.c", "hash", 2)
    assert sm.locate("Widget::draw(int) const") == symbols.Located("w.cpp", "draw", 1)
    assert sm.locate("Gadget::draw(int) const") is None
    assert sm.locate("memcpy") is None
