//! Validation: every rule on names, placement, signatures and types as a `syn::Error` on the offending token.
//! All problems in one item are gathered, so one build reports them all.

use crate::ast::{Context, CrateOnly, Enclosing, ExportArgs, ImportArgs, Item, Name};
use crate::reserved;
use crate::types::{self, ALLOWED, Param, result_type};
use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};

/// `fn name`: the span that placement errors point at.
fn fn_name(sig: &Signature) -> TokenStream {
    let (fn_token, ident) = (&sig.fn_token, &sig.ident);
    quote!(#fn_token #ident)
}
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, ReturnType, Signature, Type};

/// A validated `#[wasmexport]` fn.
pub struct Export {
    pub name: String,
    pub func: ItemFn,
    pub params: Vec<Param>,
    pub ret: Option<Type>,
    /// The runtime crate's path (`crate = path`, or `::wasmexport`).
    pub krate: TokenStream,
    /// `#[wasmexport(pending)]`: returns to the host while its future waits.
    pub pending: bool,
}

/// A validated `#[wasmimport]` declaration.
pub struct Import {
    pub module: String,
    pub name: String,
    pub decl: syn::ForeignItemFn,
    pub params: Vec<Param>,
    pub ret: Option<Type>,
    /// The runtime crate's path (`crate = path`, or `::wasmexport`).
    pub krate: TokenStream,
}

/// Gathers errors, combining them into one.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, span: impl ToTokens, msg: impl std::fmt::Display) {
        self.add(syn::Error::new_spanned(span, msg));
    }
    fn push_at(&mut self, span: Span, msg: impl std::fmt::Display) {
        self.add(syn::Error::new(span, msg));
    }
    pub(crate) fn add(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }
    pub(crate) fn finish<T>(self, ok: T) -> Result<T, syn::Error> {
        match self.0 {
            Some(e) => Err(e),
            None => Ok(ok),
        }
    }
}

/// What to emit again next to the errors: the user's item, so that IDEs keep working and
/// rustc does not add "cannot find function" errors on top of ours.
pub fn passthrough(item: &Item, ctx: Context) -> TokenStream {
    match item {
        Item::Fn(f) => {
            // rustc would add its own errors about a C-variadic Rust fn on top of ours.
            let mut f = f.clone();
            f.sig.variadic = None;
            f.to_token_stream()
        }
        // A bodiless fn is only valid inside a trait or an `extern` block; elsewhere emitting it
        // would add an error.
        Item::Decl(d) if matches!(ctx.enclosing, Enclosing::Trait | Enclosing::Extern) => {
            d.to_token_stream()
        }
        Item::Decl(_) => TokenStream::new(),
        Item::Other(tokens) => tokens.clone(),
    }
}

/// Validates `#[wasmexport(args)] item`.
pub fn export(args: syn::Result<ExportArgs>, item: &Item, ctx: Context) -> syn::Result<Export> {
    let mut errors = Errors::default();
    let args = args.map_err(|e| errors.add(e)).ok();
    let func = match item {
        Item::Fn(f) => f,
        Item::Decl(d) if matches!(ctx.enclosing, Enclosing::Impl | Enclosing::Trait) => {
            check_free(&mut errors, &d.sig, ctx, "exported");
            return Err(errors.0.unwrap_or_else(|| unreachable_error(d.span())));
        }
        Item::Decl(d) => {
            errors.push(
                fn_name(&d.sig),
                "#[wasmexport] needs a fn with a body; to declare a host import use #[wasmimport]",
            );
            return Err(errors.0.unwrap_or_else(|| unreachable_error(d.span())));
        }
        Item::Other(tokens) => {
            errors.push(tokens, "#[wasmexport] goes on a free `fn` item");
            return Err(errors.0.unwrap_or_else(|| unreachable_error(tokens.span())));
        }
    };
    let sig = &func.sig;
    let krate = args.as_ref().map(|a| a.krate.path()).unwrap_or_default();
    let pending = args.as_ref().and_then(|a| a.pending);
    if let Some(span) = pending
        && sig.asyncness.is_none()
    {
        errors.push_at(
            span,
            "a pending export is an `async fn`: it returns to the host while its future waits \
             (to export a fn under the name \"pending\", write #[wasmexport(\"pending\")])",
        );
    }
    let name = match args.and_then(|a| a.name) {
        Some(name) => name,
        None => {
            let ident = syn::ext::IdentExt::unraw(&sig.ident);
            Name { value: ident.to_string(), span: sig.ident.span(), explicit: false }
        }
    };
    check_name(&mut errors, &name, "export", ctx.in_bin);
    check_other_export_attrs(&mut errors, &func.attrs);
    check_free(&mut errors, sig, ctx, "exported");
    let params = check_signature(&mut errors, sig, "#[wasmexport]");
    let ret = result_type(&sig.output);
    let pending = pending.is_some();
    errors.finish(Export { name: name.value, func: func.clone(), params, ret, krate, pending })
}

/// Validates `#[wasmimport(args)] fn f(..) -> R;`.
pub fn import(args: syn::Result<ImportArgs>, item: &Item, ctx: Context) -> syn::Result<Import> {
    let mut errors = Errors::default();
    let args = args.map_err(|e| errors.add(e)).ok();
    let decl = match item {
        Item::Decl(d) => d,
        Item::Fn(f) => {
            errors.push(
                &f.block,
                "#[wasmimport] declares a host function: write `fn name(..) -> R;` without a body",
            );
            return Err(errors.0.unwrap_or_else(|| unreachable_error(f.span())));
        }
        Item::Other(tokens) => {
            errors.push(tokens, "#[wasmimport] goes on a bodiless `fn name(..) -> R;` item");
            return Err(errors.0.unwrap_or_else(|| unreachable_error(tokens.span())));
        }
    };
    let sig = &decl.sig;
    if ctx.enclosing == Enclosing::Extern {
        errors.push(
            fn_name(sig),
            "#[wasmimport] writes the `extern` block itself: put it on a `fn name(..) -> R;` at \
             module level, outside any `extern` block",
        );
        return Err(errors.0.unwrap_or_else(|| unreachable_error(decl.span())));
    }
    let (mut module, mut name, mut krate) = (None, None, TokenStream::new());
    if let Some(args) = args {
        krate = args.krate.path();
        match args.module {
            Some(m) => module = Some(m),
            None => errors.push_at(
                args.span,
                "#[wasmimport] needs `module = \"...\"`, the import's module name",
            ),
        }
        name = args.name;
    }
    let name = name.unwrap_or_else(|| {
        let ident = syn::ext::IdentExt::unraw(&sig.ident);
        Name { value: ident.to_string(), span: sig.ident.span(), explicit: false }
    });
    if let Some(m) = &module {
        check_nonempty(&mut errors, m, "import module");
    }
    check_nonempty(&mut errors, &name, "import");
    if let Some(abi) = &sig.asyncness {
        errors
            .push(abi, "a #[wasmimport] fn cannot be `async`: host functions return synchronously");
    }
    let params = check_signature(&mut errors, sig, "#[wasmimport]");
    if let Some(FnArg::Receiver(r)) = sig.inputs.first() {
        errors.push(r, "a #[wasmimport] fn cannot take `self`");
    }
    for Param { pat, .. } in &params {
        match pat {
            syn::Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => {
                if let Some(m) = &p.mutability {
                    // Found by the fuzzer: `mut` used to expand to code that did not compile.
                    errors.push(
                        m,
                        "`mut` means nothing on a #[wasmimport] parameter: the fn has no body",
                    );
                }
            }
            syn::Pat::Wild(_) => {}
            _ => errors.push(pat, "#[wasmimport] parameters must be plain names or `_`"),
        }
    }
    let ret = result_type(&sig.output);
    let module = module.map(|m| m.value).unwrap_or_default();
    errors.finish(Import { module, name: name.value, decl: decl.clone(), params, ret, krate })
}

/// The runtime crate's path from an attribute that takes only `crate = path` (an error, and no
/// path, for anything else).
fn crate_arg(errors: &mut Errors, attr: TokenStream) -> TokenStream {
    match syn::parse2::<CrateOnly>(attr) {
        Ok(CrateOnly(krate)) => krate.path(),
        Err(e) => {
            errors.add(e);
            TokenStream::new()
        }
    }
}

/// Validates `#[wasmexport::init] fn f() { .. }`.
/// Returns the fn and the runtime crate's path.
pub fn init(attr: TokenStream, item: &Item, ctx: Context) -> syn::Result<(ItemFn, TokenStream)> {
    let mut errors = Errors::default();
    let krate = crate_arg(&mut errors, attr);
    let Item::Fn(func) = item else {
        let tokens = passthrough(item, ctx);
        errors.push(&tokens, "#[wasmexport::init] goes on a free `fn name() { .. }`");
        return Err(errors.0.unwrap_or_else(|| unreachable_error(tokens.span())));
    };
    let sig = &func.sig;
    check_free(&mut errors, sig, ctx, "init fns");
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.push(&sig.generics, "an init fn cannot be generic");
    }
    if let Some(a) = &sig.asyncness {
        errors.push(a, "an init fn cannot be `async`; spawn a task from it with wasmexport::spawn");
    }
    if let Some(u) = &sig.unsafety {
        errors.push(u, "an init fn cannot be `unsafe`: the runtime calls it with no preconditions");
    }
    if let Some(abi) = &sig.abi {
        errors.push(abi, "an init fn is a plain Rust fn: remove the `extern` ABI");
    }
    for arg in sig.inputs.iter().filter(|a| matches!(a, FnArg::Typed(_))) {
        errors.push(arg, "an init fn takes no parameters");
    }
    if result_type(&sig.output).is_some() {
        errors.push(&sig.output, "an init fn returns nothing");
    }
    errors.finish((func.clone(), krate))
}

/// Validates `#[wasmexport::main] fn main() { .. }` (sync or async).
/// Returns the fn and the runtime crate's path.
pub fn main(attr: TokenStream, item: &Item, ctx: Context) -> syn::Result<(ItemFn, TokenStream)> {
    let mut errors = Errors::default();
    let krate = crate_arg(&mut errors, attr);
    let Item::Fn(func) = item else {
        let tokens = passthrough(item, ctx);
        errors.push(&tokens, "#[wasmexport::main] goes on the crate's `fn main`");
        return Err(errors.0.unwrap_or_else(|| unreachable_error(tokens.span())));
    };
    let sig = &func.sig;
    if sig.ident != "main" {
        errors.push(&sig.ident, "#[wasmexport::main] goes on `fn main` (a command's entry point)");
    }
    check_free(&mut errors, sig, ctx, "a command's main");
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.push(&sig.generics, "`main` cannot be generic");
    }
    if let Some(u) = &sig.unsafety {
        errors.push(u, "`main` cannot be `unsafe`");
    }
    if let Some(abi) = &sig.abi {
        errors.push(abi, "`main` is a plain Rust fn: remove the `extern` ABI");
    }
    for arg in &sig.inputs {
        errors.push(arg, "`main` takes no parameters");
    }
    errors.finish((func.clone(), krate))
}

/// Only free fns: methods and associated fns are refused.
fn check_free(errors: &mut Errors, sig: &Signature, ctx: Context, role: &str) {
    let inside = match ctx.enclosing {
        Enclosing::Impl => Some("an `impl` block"),
        Enclosing::Trait => Some("a `trait`"),
        Enclosing::Free | Enclosing::Unknown | Enclosing::Extern => None,
    };
    if let Some(inside) = inside {
        errors.push(
            fn_name(sig),
            format!(
                "only free functions can be {role}, and this fn is inside {inside}; \
                 move it to module level (wrap a method in a free fn that calls it)"
            ),
        );
    } else if let Some(FnArg::Receiver(r)) = sig.inputs.first() {
        errors.push(
            r,
            format!("methods cannot be {role}: only free functions can (wrap the method in a free fn that calls it)"),
        );
    }
}

/// Export names: not empty, no NUL, and none that cannot work (`reserved.rs`).
fn check_name(errors: &mut Errors, name: &Name, what: &str, in_bin: bool) {
    check_nonempty(errors, name, what);
    if let Some(why) = reserved::why(&name.value, in_bin) {
        let from = if name.explicit {
            ""
        } else {
            " (taken from the fn name; give another with #[wasmexport(\"name\")])"
        };
        // At the end of the first line: a message may go on with a recipe.
        let mut msg = why;
        msg.insert_str(msg.find('\n').unwrap_or(msg.len()), from);
        errors.push_at(name.span, msg);
    }
}

/// `#[no_mangle]` or `#[export_name]` beside `#[wasmexport]` would define a second export,
/// outside the runtime's checks (it could run before `_initialize`).
fn check_other_export_attrs(errors: &mut Errors, attrs: &[syn::Attribute]) {
    for attr in attrs {
        let mut path = attr.path();
        // `#[unsafe(no_mangle)]`: the attribute inside `unsafe(..)`.
        let inner;
        if path.is_ident("unsafe")
            && let Ok(meta) = attr.parse_args::<syn::Meta>()
        {
            inner = meta;
            path = inner.path();
        }
        if path.is_ident("no_mangle") || path.is_ident("export_name") {
            errors.push(
                attr,
                "#[wasmexport] already exports this fn: remove this attribute (it would add a \
                 second export that bypasses the runtime, callable before `_initialize`); \
                 name the export with #[wasmexport(\"name\")]",
            );
        }
    }
}

fn check_nonempty(errors: &mut Errors, name: &Name, what: &str) {
    if name.value.is_empty() {
        errors.push_at(name.span, format!("the {what} name cannot be empty"));
    } else if name.value.contains('\0') {
        errors.push_at(name.span, format!("the {what} name cannot contain a NUL character"));
    }
}

/// Signatures: generics, variadics, ABI, and the parameter and result types by spelling (the
/// expansion checks the rest through traits). Returns the typed parameters.
fn check_signature(errors: &mut Errors, sig: &Signature, what: &str) -> Vec<Param> {
    if !sig.generics.params.is_empty() {
        errors.push(
            &sig.generics.params,
            format!(
                "a {what} fn cannot have generic or lifetime parameters: a wasm signature is fixed"
            ),
        );
    }
    if let Some(w) = &sig.generics.where_clause {
        errors.push(w, format!("a {what} fn cannot have a where clause"));
    }
    if let Some(v) = &sig.variadic {
        errors.push(v, format!("a {what} fn cannot be variadic"));
    }
    if let Some(abi) = &sig.abi
        && let Some(lit) = &abi.name
        && lit.value() != "C"
    {
        errors.push(
            abi,
            format!("a {what} fn uses the \"C\" ABI; \"{}\" is not allowed", lit.value()),
        );
    }
    let mut type_errors = Vec::new();
    let params = types::params(sig, &mut type_errors);
    if let ReturnType::Type(_, ty) = &sig.output {
        if let Type::Never(n) = &**ty {
            errors.push(n, format!("a {what} fn must return; use `()` or one of: {ALLOWED}"));
        } else if result_type(&sig.output).is_some() {
            type_errors.extend(types::check_result(ty).err());
        }
    }
    type_errors.into_iter().for_each(|e| errors.add(e));
    params
}

/// Every early return above pushes an error first; this keeps the code panic-free anyway.
fn unreachable_error(span: Span) -> syn::Error {
    syn::Error::new(span, "wasmexport: invalid item")
}
