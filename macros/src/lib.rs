//! Attribute macros behind [`wasmexport`](https://docs.rs/wasmexport); depend on that crate,
//! which re-exports them and holds the runtime the generated code calls.
//!
//! Each macro is three stages: `ast` parses, `valid` checks every rule with a spanned error,
//! `expand` emits the item plus its shim. `context` tells free fns from associated ones.

mod ast;
mod context;
mod expand;
#[cfg(test)]
mod fuzz;
mod layout;
mod reserved;
mod types;
mod valid;

use proc_macro::TokenStream;

/// Exports a free fn from the wasm module; see `wasmexport::wasmexport`.
#[proc_macro_attribute]
pub fn wasmexport(attr: TokenStream, item: TokenStream) -> TokenStream {
    let ctx = context_of(&item);
    expand::wasmexport(attr.into(), item.into(), ctx).into()
}

/// Runs a fn once from `_initialize`; see `wasmexport::init`.
#[proc_macro_attribute]
pub fn init(attr: TokenStream, item: TokenStream) -> TokenStream {
    let ctx = context_of(&item);
    expand::init(attr.into(), item.into(), ctx).into()
}

/// Runs a command's `main` on the executor; see `wasmexport::main`.
#[proc_macro_attribute]
pub fn main(attr: TokenStream, item: TokenStream) -> TokenStream {
    let ctx = context_of(&item);
    expand::main(attr.into(), item.into(), ctx).into()
}

/// Declares a host import; see `wasmexport::wasmimport`.
#[proc_macro_attribute]
pub fn wasmimport(attr: TokenStream, item: TokenStream) -> TokenStream {
    let ctx = context_of(&item);
    expand::wasmimport(attr.into(), item.into(), ctx).into()
}

/// Marks a `#[repr(C)]` struct as having a host layout; see `wasmexport::HostLayout`.
#[proc_macro_derive(HostLayout, attributes(host_layout))]
pub fn host_layout(item: TokenStream) -> TokenStream {
    layout::derive(item.into()).into()
}

fn context_of(item: &TokenStream) -> ast::Context {
    let enclosing = match ast::parse_item(item.clone().into()) {
        ast::Item::Fn(f) => context::enclosing(&f.sig.ident),
        ast::Item::Decl(d) => context::enclosing(&d.sig.ident),
        ast::Item::Other(_) => ast::Enclosing::Unknown,
    };
    // Cargo sets CARGO_BIN_NAME in rustc's environment for bin targets only.
    let in_bin = std::env::var_os("CARGO_BIN_NAME").is_some();
    ast::Context { enclosing, in_bin }
}
