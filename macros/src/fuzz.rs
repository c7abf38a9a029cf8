//! The macros never panic, by fuzzing: the four attribute expansions, the `HostLayout` derive
//! and the source scanner never panic, whatever tokens they get, and a well-formed item always
//! expands to items that parse.
//!
//! The inputs are fn items assembled from pools of odd parts (qualifiers, generics, receivers,
//! patterns, types including macros and `impl Trait`, attributes, names from empty to 10,000
//! chars, strings with NULs, quotes and non-ASCII), attribute arguments of every shape, and
//! mutations of both (tokens dropped, swapped, inserted, streams cut short).
//!
//! `cargo xtask test` runs `WASMEXPORT_FUZZ_CASES` cases (default 10,000) per target;
//! `cargo xtask fuzz` runs 200,000 (or as many as it says). Each target prints how many inputs it
//! tried.

use crate::ast::{self, Context, Enclosing};
use crate::{context, expand, layout};
use proc_macro2::TokenStream;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::cell::Cell;
use std::str::FromStr;

thread_local! {
    /// How many inputs of the target running on this thread were well-formed fns.
    static WELL_FORMED: Cell<u64> = const { Cell::new(0) };
}

fn cases() -> u32 {
    std::env::var("WASMEXPORT_FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(10_000)
}

fn pick(options: &'static [&'static str]) -> impl Strategy<Value = String> {
    proptest::sample::select(options).prop_map(str::to_string)
}

/// Names and strings: ordinary, raw, keywords, empty, huge, and strange characters.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        pick(&["add", "r#type", "r#fn", "_start", "_initialize", "main", "self", "Self", "_"]),
        pick(&["memory", "malloc", "write", "__heap_base", "r#main"]),
        "[a-z_][a-z0-9_]{0,12}",
        (1usize..10_000).prop_map(|n| "x".repeat(n)),
    ]
}

fn string_literal() -> impl Strategy<Value = String> {
    prop_oneof![
        pick(&["", "add", "_start", "_initialize", "a\\0b", "\\u{0}", "wasi:http/handler@0.2.0#h"]),
        pick(&["\\\"", "é", "💥", "\\n", "  ", "\\u{10FFFF}", "a\\\\b"]),
        (0usize..5_000).prop_map(|n| "y".repeat(n)),
        "[ -~]{0,20}".prop_map(|s| s.replace('\\', "\\\\").replace('"', "\\\"")),
    ]
    .prop_map(|s| format!("\"{s}\""))
}

fn ty() -> impl Strategy<Value = String> {
    let leaf = pick(&[
        "i32",
        "u32",
        "i64",
        "u64",
        "f32",
        "f64",
        "bool",
        "()",
        "!",
        "u8",
        "i128",
        "usize",
        "char",
        "str",
        "String",
        "Self",
        "_",
        "Vec<u8>",
        "Option<i32>",
        "&'a i32",
        "&mut u8",
        "*const u8",
        "*mut Foo",
        "*const *mut u8",
        "[u8; 4]",
        "[u8]",
        "(i32, i32)",
        "fn(i32)",
        "impl Fn()",
        "dyn Trait",
        "Box<dyn Fn() -> i32>",
        "T",
        "m!()",
        "std::primitive::i32",
        "<T as Trait>::Out",
        "core::ffi::c_int",
        "extern \"C\" fn()",
        "::i32",
        "i32<>",
        "usize",
        "isize",
        "&str",
        "&'static str",
        "&'a str",
        "&mut str",
        "&[u8]",
        "&mut [u8]",
        "&[u16]",
        "&mut [Byte]",
        "*const c_void",
        "*mut [u8; 4]",
        "*const Point",
        "Unit",
        "(&str)",
    ]);
    leaf.prop_recursive(3, 8, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|t| format!("*const {t}")),
            inner.clone().prop_map(|t| format!("&{t}")),
            inner.clone().prop_map(|t| format!("Option<{t}>")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("({a}, {b})")),
        ]
    })
}

fn param() -> impl Strategy<Value = String> {
    prop_oneof![
        (name(), ty()).prop_map(|(n, t)| format!("{n}: {t}")),
        ty().prop_map(|t| format!("mut x: {t}")),
        ty().prop_map(|t| format!("_: {t}")),
        ty().prop_map(|t| format!("(a, b): {t}")),
        ty().prop_map(|t| format!("#[cfg(all())] y: {t}")),
        ty().prop_map(|t| format!("#[cfg(any())] #[allow(unused)] z: {t}")),
        ty().prop_map(|t| format!("__wasmexport_arg0: {t}")),
        ty().prop_map(|t| format!("import: {t}")),
        pick(&["self", "&self", "&mut self", "mut self", "self: Box<Self>", "...", "args: ..."]),
    ]
}

/// A fn item (with a body, or bodiless), as source text.
fn fn_item() -> impl Strategy<Value = String> {
    let attrs = pick(&[
        "",
        "#[inline]",
        "#[doc = \"d\"]",
        "#[cfg(all())]",
        "#[no_mangle]",
        "#[wasmexport]",
    ]);
    let vis = pick(&["", "pub", "pub(crate)", "pub(super)", "pub(in crate::a)"]);
    let quals = pick(&[
        "",
        "async",
        "unsafe",
        "const",
        "async unsafe",
        "extern \"C\"",
        "extern \"Rust\"",
        "unsafe extern \"C\"",
        "const async",
        "safe",
    ]);
    let generics = pick(&["", "<T>", "<'a>", "<const N: usize>", "<T: Clone>", "<>"]);
    let ret = prop_oneof![Just(String::new()), ty().prop_map(|t| format!("-> {t}"))];
    let where_ = pick(&["", "where T: Clone", "where"]);
    let body = pick(&[
        ";",
        "{}",
        "{ 0 }",
        "{ x + y }",
        "{ loop {} }",
        "{ todo!() }",
        "{ async {}.await }",
    ]);
    (attrs, vis, quals, name(), generics, prop::collection::vec(param(), 0..5), ret, where_, body)
        .prop_map(|(a, v, q, n, g, ps, r, w, b)| {
            format!("{a} {v} {q} fn {n}{g}({}) {r} {w} {b}", ps.join(", "))
        })
}

fn attr_args() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        string_literal(),
        name(),
        string_literal().prop_map(|s| format!("name = {s}")),
        (string_literal(), string_literal()).prop_map(|(m, n)| format!("module = {m}, name = {n}")),
        (string_literal(), string_literal()).prop_map(|(m, n)| format!("name = {n}, module = {m}")),
        string_literal().prop_map(|m| format!("module = {m}")),
        string_literal().prop_map(|s| format!("{s}, {s}")),
        pick(&[
            "name",
            "name =",
            "= \"x\"",
            "module = 1",
            "name = add",
            "1",
            "..",
            "a b c",
            "name = \"a\",",
            ",",
            "crate = we",
            "crate = ::we::inner",
            "crate",
            "crate =",
            "crate = 1",
            "crate = we, crate = we",
            "\"n\", crate = we",
            "n, crate = we,",
            "crate = we, module = \"m\"",
            "module = \"m\", name = \"n\", crate = we",
        ]),
    ]
}

/// Token-level mutations: some tokens dropped, a token duplicated, the stream cut short.
fn mutate(text: &str, ops: &[(u8, usize)]) -> TokenStream {
    let Ok(tokens) = TokenStream::from_str(text) else { return TokenStream::new() };
    let mut trees: Vec<_> = tokens.into_iter().collect();
    for &(op, at) in ops {
        if trees.is_empty() {
            break;
        }
        let at = at % trees.len();
        match op % 4 {
            0 => drop(trees.remove(at)),
            1 => trees.insert(at, trees[at].clone()),
            2 => trees.truncate(at),
            _ => {
                let other = (at * 7 + 3) % trees.len();
                trees.swap(at, other);
            }
        }
    }
    trees.into_iter().collect()
}

fn contexts() -> impl Strategy<Value = Context> {
    (
        proptest::sample::select(
            &[
                Enclosing::Unknown,
                Enclosing::Free,
                Enclosing::Impl,
                Enclosing::Trait,
                Enclosing::Extern,
            ][..],
        ),
        any::<bool>(),
    )
        .prop_map(|(enclosing, in_bin)| Context { enclosing, in_bin })
}

type Expand = fn(TokenStream, TokenStream, Context) -> TokenStream;

const MACROS: [(&str, Expand); 4] = [
    ("wasmexport", expand::wasmexport),
    ("init", expand::init),
    ("main", expand::main),
    ("wasmimport", expand::wasmimport),
];

/// Runs one expansion and checks it: no panic (a panic fails the case by itself), and for a
/// well-formed fn, output that parses as items.
fn check(
    expand: Expand,
    attr: TokenStream,
    item: TokenStream,
    ctx: Context,
) -> Result<(), TestCaseError> {
    let well_formed = !matches!(ast::parse_item(item.clone()), ast::Item::Other(_));
    let out = expand(attr, item, ctx);
    if well_formed {
        WELL_FORMED.set(WELL_FORMED.get() + 1);
        prop_assert!(
            syn::parse2::<syn::File>(out.clone()).is_ok(),
            "output does not parse:\n{out}"
        );
    }
    Ok(())
}

fn run<S: Strategy>(what: &str, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>) {
    let config = Config { cases: cases(), failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new(config);
    let tried = Cell::new(0u64);
    WELL_FORMED.set(0);
    let result = runner.run(&strategy, |v| {
        tried.set(tried.get() + 1);
        test(v)
    });
    let verdict = if result.is_ok() { "no failure" } else { "FAILED" };
    eprintln!(
        "fuzz {what}: {} inputs tried ({} well-formed fns), {verdict}",
        tried.get(),
        WELL_FORMED.get()
    );
    if let Err(e) = result {
        panic!("{what}: {e}");
    }
}

#[test]
fn generated_items_and_arguments() {
    for (name, expand) in MACROS {
        run(name, (attr_args(), fn_item(), contexts()), |(attr, item, ctx)| {
            let attr = TokenStream::from_str(&attr).unwrap_or_default();
            let item = TokenStream::from_str(&item).unwrap_or_default();
            check(expand, attr, item, ctx)
        });
    }
}

#[test]
fn mutated_items_and_arguments() {
    let ops = || prop::collection::vec((any::<u8>(), any::<usize>()), 0..6);
    for (name, expand) in MACROS {
        run(
            &format!("{name}, mutated"),
            (attr_args(), ops(), fn_item(), ops(), contexts()),
            |(a, aops, i, iops, ctx)| check(expand, mutate(&a, &aops), mutate(&i, &iops), ctx),
        );
    }
}

/// A struct, enum or union item for the derive, as source text.
fn derive_item() -> impl Strategy<Value = String> {
    let attrs = pick(&[
        "",
        "#[repr(C)]",
        "#[repr(transparent)]",
        "#[repr(C, packed)]",
        "#[repr(align(8), C)]",
        "#[repr(u8)]",
        "#[repr]",
        "#[repr(C(x))]",
        "#[host_layout(crate = we)]",
        "#[host_layout(crate)]",
        "#[host_layout]",
        "#[repr(C)] #[host_layout(crate = ::we, x)]",
    ]);
    let kind = pick(&["struct", "enum", "union"]);
    let generics = pick(&["", "<T>", "<'a, T: Copy>", "<const N: usize>", "<T = u32>"]);
    let fields = prop::collection::vec((name(), ty()), 0..4);
    let shape = pick(&["named", "tuple", "unit"]);
    let where_ = pick(&["", "where T: Copy"]);
    (attrs, kind, name(), generics, fields, shape, where_).prop_map(|(a, k, n, g, fs, sh, w)| {
        let body = match sh.as_str() {
            "named" => {
                let fs: Vec<_> = fs.iter().map(|(f, t)| format!("{f}: {t}")).collect();
                format!("{w} {{ {} }}", fs.join(", "))
            }
            "tuple" => {
                let ts: Vec<_> = fs.iter().map(|(_, t)| t.clone()).collect();
                format!("({}) {w};", ts.join(", "))
            }
            _ => format!("{w};"),
        };
        format!("{a} {k} {n}{g} {body}")
    })
}

#[test]
fn the_host_layout_derive() {
    let ops = || prop::collection::vec((any::<u8>(), any::<usize>()), 0..6);
    run("HostLayout derive", (derive_item(), ops(), any::<bool>()), |(item, iops, mutated)| {
        let tokens = if mutated {
            mutate(&item, &iops)
        } else {
            TokenStream::from_str(&item).unwrap_or_default()
        };
        let well_formed = syn::parse2::<syn::DeriveInput>(tokens.clone()).is_ok();
        let out = layout::derive(tokens);
        if well_formed {
            WELL_FORMED.set(WELL_FORMED.get() + 1);
            prop_assert!(
                syn::parse2::<syn::File>(out.clone()).is_ok(),
                "output does not parse:\n{out}"
            );
        }
        Ok(())
    });
}

#[test]
fn the_source_scanner() {
    let source = prop_oneof![
        "[ -~\n\t]{0,200}",
        prop::collection::vec(
            pick(&[
                "impl X {",
                "trait T {",
                "}",
                "{",
                "fn add() {}",
                "/*",
                "*/",
                "//",
                "\n",
                "\"",
                "r#\"",
                "\"#",
                "'a",
                "'{'",
                "b'}'",
                "mod m {",
                " "
            ]),
            0..40
        )
        .prop_map(|v| v.concat()),
    ];
    run("context::scan", (source, 0usize..50, 0usize..80), |(src, line, column)| {
        let _ = context::scan(&src, line, column);
        Ok(())
    });
}
