//! Expansion: the user's item, unchanged, plus a shim that reaches the runtime only through
//! `::wasmexport::__private` (or the `crate = path` given). Every entry here takes and returns
//! `proc_macro2` tokens, so the whole macro can be driven outside the compiler (fuzzing, unit
//! tests).

use crate::ast::{self, Context, Enclosing, ExportArgs, ImportArgs, Item};
use crate::types::{self, Lowering, Param};
use crate::valid::{self, Export, Import};
use proc_macro2::{Ident, Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::Type;
use syn::ext::IdentExt;
use syn::spanned::Spanned;

/// `#[wasmexport(attr)] item`.
pub fn wasmexport(attr: TokenStream, item: TokenStream, ctx: Context) -> TokenStream {
    let args = syn::parse2::<ExportArgs>(attr);
    let krate = args.as_ref().ok().map(|a| a.krate.path());
    let item = ast::parse_item(item);
    match valid::export(args, &item, ctx) {
        Ok(export) => export_shim(&export, ctx),
        Err(e) => rejected(&item, ctx, e, krate),
    }
}

/// `#[wasmexport::init] item`.
pub fn init(attr: TokenStream, item: TokenStream, ctx: Context) -> TokenStream {
    let item = ast::parse_item(item);
    match valid::init(attr, &item, ctx) {
        Ok((func, krate)) => {
            let ident = &func.sig.ident;
            let deps = direct_dependencies();
            quote! {
                #func
                #krate::__private::inventory::submit! {
                    #krate::__private::InitHook {
                        run: #ident,
                        deps: &[#(#deps),*],
                        module: ::core::module_path!(),
                        file: ::core::file!(),
                        line: ::core::line!(),
                        column: ::core::column!(),
                    }
                }
            }
        }
        Err(e) => rejected(&item, ctx, e, None),
    }
}

/// The crates that the crate being compiled uses directly: the names of rustc's `--extern`
/// options, one per dependency when Cargo runs rustc (a proc macro runs inside rustc). The
/// runtime orders init hooks by them. Neither rustc nor Cargo offers this to a macro in another
/// way; outside rustc (fuzzing, unit tests) the list is whatever the process's arguments give.
fn direct_dependencies() -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut args = std::env::args();
    while let Some(arg) = args.next() {
        let spec = if arg == "--extern" {
            args.next()
        } else {
            arg.strip_prefix("--extern=").map(str::to_owned)
        };
        // `[modifiers:]name[=path]`.
        let Some(spec) = spec else { continue };
        let name = spec.split('=').next().unwrap_or_default();
        let name = name.rsplit(':').next().unwrap_or_default();
        if !name.is_empty() && !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
    }
    names
}

/// The const that `#[wasmexport::main]` defines at the crate root and that every
/// `#[wasmexport]` of a wasm bin refers to: its name is the error a bin without it gets.
const MAIN_MARKER: &str = "__add_wasmexport_main_to_fn_main";

/// `#[wasmexport::main] fn main() { .. }`.
pub fn main(attr: TokenStream, item: TokenStream, ctx: Context) -> TokenStream {
    let item = ast::parse_item(item);
    match valid::main(attr, &item, ctx) {
        Ok((func, krate)) => {
            let syn::ItemFn { attrs, vis, sig, block } = &func;
            let output = &sig.output;
            let marker = format_ident!("{MAIN_MARKER}");
            quote! {
                #(#attrs)*
                #vis fn main() #output {
                    #krate::__private::command_feature!();
                    #krate::__private::run_main(async move #block)
                }

                #[doc(hidden)]
                #[allow(non_upper_case_globals, dead_code)]
                const #marker: () = ();
            }
        }
        Err(e) => rejected(&item, ctx, e, None),
    }
}

/// `#[wasmimport(module = "m", name = "n")] fn f(..) -> R;`.
pub fn wasmimport(attr: TokenStream, item: TokenStream, ctx: Context) -> TokenStream {
    let args = syn::parse2::<ImportArgs>(attr);
    let krate = args.as_ref().ok().map(|a| a.krate.path());
    let item = ast::parse_item(item);
    match valid::import(args, &item, ctx) {
        Ok(import) => import_wrapper(&import),
        Err(e) => rejected(&item, ctx, e, krate),
    }
}

/// A rejected item: the item again (see `valid::passthrough`), the errors, and, if the crate
/// path is known, the trait checks of the types that passed the spelling checks, so that one
/// build reports every problem (`fn f(a: u8, s: S)` reports `u8` and `S` at once).
fn rejected(item: &Item, ctx: Context, e: syn::Error, krate: Option<TokenStream>) -> TokenStream {
    let checks = krate.map(|krate| type_checks(item, ctx, &krate)).unwrap_or_default();
    let errors = e.to_compile_error();
    let item = valid::passthrough(item, ctx);
    quote!(#item #errors #checks)
}

/// The trait checks the shim would make, for a fn without one: spelled exactly as in the shim,
/// so that each unsupported type gets the same error. Only where the types can be named next
/// to the item: a free, non-generic fn, and types that do not mention `Self` or `impl Trait`.
fn type_checks(item: &Item, ctx: Context, krate: &TokenStream) -> TokenStream {
    let sig = match item {
        Item::Fn(f) => &f.sig,
        Item::Decl(d) => &d.sig,
        Item::Other(_) => return TokenStream::new(),
    };
    let generic = !sig.generics.params.is_empty() || sig.generics.where_clause.is_some();
    // Only where the fn is known to be free: a `const _` item is not valid in an `impl`, a
    // `trait` or an `extern` block, and a fn another macro generated may stand in one. A
    // bodiless fn at module level (a rejected `#[wasmimport]`) is not in syn's file tree as a
    // fn, so it is unknown there: it can only stand in a module, or the file would not parse.
    let free = match ctx.enclosing {
        Enclosing::Free => true,
        Enclosing::Unknown => matches!(item, Item::Decl(_)),
        Enclosing::Impl | Enclosing::Trait | Enclosing::Extern => false,
    };
    if generic || !free {
        return TokenStream::new();
    }
    let params = types::params(sig, &mut Vec::new());
    let mut checks: Vec<_> = params
        .iter()
        .filter(|p| p.spelled_ok && types::nameable(&p.ty))
        .map(|p| {
            let cfgs = &p.cfgs;
            match p.lowering {
                Lowering::Value => {
                    let abi = abi(krate, &p.ty);
                    quote!(#(#cfgs)* let _: ::core::option::Option<#abi>;)
                }
                Lowering::Slice => {
                    let slice = slice(krate, &p.ty);
                    quote!(#(#cfgs)* let _ = #slice::MUTABLE;)
                }
            }
        })
        .collect();
    if let Some(ty) = types::result_type(&sig.output)
        && types::check_result(&ty).is_ok()
        && types::nameable(&ty)
    {
        let check = result_abi(krate, &ty);
        checks.push(quote!(let _: ::core::option::Option<#check>;));
    }
    if checks.is_empty() {
        return TokenStream::new();
    }
    let check_fn = Ident::new("check_types", Span::mixed_site());
    quote! {
        const _: () = {
            #[allow(dead_code)]
            fn #check_fn() { #(#checks)* }
        };
    }
}

/// `<T as WasmType>::Abi`, and the conversions below, spanned on the user's type (a pointer's
/// pointee) so that the traits' `#[diagnostic::on_unimplemented]` messages point at it, once.
fn abi(krate: &TokenStream, ty: &Type) -> TokenStream {
    quote_spanned!(types::error_span(ty)=> <#ty as #krate::__private::WasmType>::Abi)
}

fn from_abi(krate: &TokenStream, ty: &Type, value: TokenStream) -> TokenStream {
    quote_spanned!(types::error_span(ty)=> <#ty as #krate::__private::WasmType>::from_abi(#value))
}

fn into_abi(krate: &TokenStream, ty: &Type, value: TokenStream) -> TokenStream {
    quote_spanned!(types::error_span(ty)=> <#ty as #krate::__private::WasmType>::into_abi(#value))
}

/// `<T as WasmSlice>`, for `&str`, `&[u8]` and `&mut [u8]` parameters.
fn slice(krate: &TokenStream, ty: &Type) -> TokenStream {
    quote_spanned!(ty.span()=> <#ty as #krate::__private::WasmSlice>)
}

fn result_abi(krate: &TokenStream, ty: &Type) -> TokenStream {
    quote_spanned!(types::error_span(ty)=> <#ty as #krate::__private::WasmResult>::Abi)
}

/// A generated local or item name: mixed-site hygiene keeps it apart from every name the user
/// writes (a parameter called `arg0` or a fn called `call` cannot capture or shadow it).
fn hygienic(name: String) -> Ident {
    Ident::new(&name, Span::mixed_site())
}

/// As [`hygienic`], located at `ty`, where an error about it belongs.
fn hygienic_at(name: String, ty: &Type) -> Ident {
    Ident::new(&name, Span::mixed_site().located_at(types::error_span(ty)))
}

/// The wasm parameters of one Rust parameter, named by `name(suffix)`: one, or pointer and
/// length for a slice.
fn abi_params(
    krate: &TokenStream,
    p: &Param,
    name: impl Fn(&str) -> Ident,
) -> (Vec<Ident>, Vec<TokenStream>) {
    match p.lowering {
        Lowering::Value => (vec![name("")], vec![abi(krate, &p.ty)]),
        Lowering::Slice => (
            vec![name("_ptr"), name("_len")],
            vec![quote!(*mut ::core::primitive::u8), quote!(::core::primitive::usize)],
        ),
    }
}

fn export_shim(export: &Export, ctx: Context) -> TokenStream {
    let Export { name, func, params, ret, krate, pending } = export;
    let sig = &func.sig;
    let ident = &sig.ident;
    let mut shim_params = Vec::new();
    let mut checks = Vec::new();
    let mut args = Vec::new();
    let mut raw_slices = Vec::new();
    // The shim's names are the fn's name plus a suffix, so never the fn's name, the one value
    // the shim's body names. They keep the call site's hygiene, located at the parameter's
    // type: rustc checks a binding's type at the binding, and this way an error about the type
    // is reported once, where the user wrote it.
    let base = ident.unraw();
    for (i, p) in params.iter().enumerate() {
        let cfgs = &p.cfgs;
        let at = types::error_span(&p.ty);
        let local = |suffix: &str| Ident::new(&format!("{base}_arg{i}{suffix}"), at);
        let (names, tys) = abi_params(krate, p, local);
        shim_params.extend(names.iter().zip(&tys).map(|(n, t)| quote!(#(#cfgs)* #n: #t)));
        match p.lowering {
            Lowering::Value => {
                let arg = from_abi(krate, &p.ty, names[0].to_token_stream());
                args.push(quote!(#(#cfgs)* #arg));
            }
            Lowering::Slice => {
                let (label, ptr, len) = (&p.label, &names[0], &names[1]);
                let arg = local("");
                let slice = slice(krate, &p.ty);
                checks.push(quote! {
                    #(#cfgs)*
                    // SAFETY: the host lends these bytes to the call, as any buffer it passes
                    // (the contract of a slice parameter); `from_raw` checks null, bounds and
                    // UTF-8, and `disjoint` (called first) that no `&mut [u8]` aliases another.
                    let #arg = unsafe { #slice::from_raw(#name, #label, #ptr, #len) };
                });
                raw_slices.push(quote!(#(#cfgs)* (#label, #ptr, #len, #slice::MUTABLE)));
                args.push(quote!(#(#cfgs)* #arg));
            }
        }
    }
    if raw_slices.len() > 1 {
        checks.insert(0, quote!(#krate::__private::disjoint(#name, &[#(#raw_slices),*]);));
    }
    let is_async = sig.asyncness.is_some();
    // An async export's future is built and run in a fn of its own (see `run` below), which
    // takes the arguments as the user's fn does; a plain export calls the user's fn in place.
    let values: Vec<Ident> = if is_async {
        (0..params.len()).map(|i| hygienic(format!("value{i}"))).collect()
    } else {
        Vec::new()
    };
    let call_args: Vec<TokenStream> = if is_async {
        params
            .iter()
            .zip(&values)
            .map(|(p, v)| {
                let cfgs = &p.cfgs;
                quote!(#(#cfgs)* #v)
            })
            .collect()
    } else {
        args.clone()
    };
    let mut call = quote!(#ident(#(#call_args),*));
    if sig.unsafety.is_some() {
        // SAFETY (of the generated code): the export's contract is the host's to uphold,
        // exactly as for a hand-written `unsafe extern "C"` export.
        call = quote!(unsafe { #call });
    }
    if is_async {
        call = quote!(#call.await);
    }
    // LLVM gives a function whose symbol is `main`, with no parameters and an `i32` result,
    // C's `main(argc, argv)` signature through a wrapper. A pointer result is an `i32` in wasm
    // too but not in LLVM's eyes, so `() -> i32` stays `() -> i32`.
    let c_main = name == "main" && params.is_empty();
    let (abi_ret, body) = match ret {
        Some(ty) => {
            let abi = result_abi(krate, ty);
            let body = quote_spanned!(types::error_span(ty)=>
                <#ty as #krate::__private::WasmResult>::into_abi(#call));
            if c_main {
                (
                    quote!(-> <#abi as #krate::__private::CMainResult>::Ret),
                    quote!(#krate::__private::CMainResult::wrap(#body)),
                )
            } else {
                (quote!(-> #abi), body)
            }
        }
        None => (TokenStream::new(), call),
    };
    let run = if *pending {
        pending_run(export, &args)
    } else if is_async {
        // The shim checks the arguments and the entry, then builds and runs the future in a
        // fn of its own, so that the shim needs no stack frame: the entry check then runs
        // before anything touches the linear-memory stack, which an earlier trap may have
        // left unusable.
        let run_params = params.iter().zip(&values).map(|(p, v)| {
            let (cfgs, ty) = (&p.cfgs, &p.ty);
            quote!(#(#cfgs)* #v: #ty)
        });
        let (run_fn, entered) = (hygienic("run".into()), hygienic("entered".into()));
        quote! {
            #[inline(never)]
            fn #run_fn(#(#run_params),*) #abi_ret {
                #krate::__private::block_on(#name, async move { #body })
            }
            let #entered = #krate::__private::AsyncCall::enter(#name);
            #run_fn(#(#args),*)
        }
    } else {
        quote!(#krate::__private::call_sync(#name, move || #body))
    };
    let shim_ret = if *pending { quote!(-> ::core::primitive::i32) } else { abi_ret };
    // A wasm command's exports run only while `_start` runs `main` on the executor, so a
    // bin must mark its main; without it this reference fails to resolve, naming the fix.
    let needs_main = if ctx.in_bin {
        let marker = format_ident!("{MAIN_MARKER}", span = ident.span());
        quote!(#[cfg(target_family = "wasm")] const _: () = crate::#marker;)
    } else {
        TokenStream::new()
    };
    // Named after the fn, so never the fn's own name: a user fn called `f_wasmexport_shim`
    // elsewhere is outside this block, and the only value this block names is the user's fn.
    let shim = format_ident!("{}_wasmexport_shim", ident.unraw(), span = Span::mixed_site());
    // Where the source did not show the fn (another macro generated it), the shim goes into a
    // const named after the rule: inside an `impl` or `trait`, rustc's error then names it.
    let (guard, guard_use) = if ctx.enclosing == Enclosing::Unknown {
        let guard = format_ident!(
            "__wasmexport_only_free_functions_can_be_exported_{}",
            ident.unraw(),
            span = ident.span()
        );
        let guard_use = quote!(const _: () = #guard;);
        (quote!(#[allow(non_upper_case_globals, dead_code)] const #guard), guard_use)
    } else {
        (quote!(const _), TokenStream::new())
    };
    quote! {
        #func
        #needs_main
        #guard: () = {
            #guard_use
            #[doc(hidden)]
            // On other targets the fn is a plain Rust fn: a C symbol named after the export
            // (`write`, say) would replace the platform's own.
            #[cfg_attr(target_family = "wasm", unsafe(export_name = #name))]
            #[cfg_attr(not(target_family = "wasm"), allow(dead_code))]
            extern "C" fn #shim(#(#shim_params),*) #shim_ret {
                // Arguments are checked before the call enters the runtime: a refused argument
                // traps without touching the instance's state, so the next call runs normally.
                #(#checks)*
                #run
            }
        };
    }
}

/// The body of a pending export's shim, after the argument checks: it enters, copies the
/// slices (the future outlives the call), and starts the future as a task that hands its result
/// to the host through the `[task-return]NAME` import; the status goes back to the host.
fn pending_run(export: &Export, args: &[TokenStream]) -> TokenStream {
    let Export { name, func, params, ret, krate, .. } = export;
    let sig = &func.sig;
    let ident = &sig.ident;
    let values: Vec<Ident> = (0..params.len()).map(|i| hygienic(format!("value{i}"))).collect();
    let mut owned = Vec::new();
    let mut call_args = Vec::new();
    for ((p, arg), v) in params.iter().zip(args).zip(&values) {
        let cfgs = &p.cfgs;
        match p.lowering {
            Lowering::Value => {
                owned.push(quote!(#(#cfgs)* let #v = #arg;));
                call_args.push(quote!(#(#cfgs)* #v));
            }
            Lowering::Slice => {
                let ty = &p.ty;
                let own = quote_spanned!(ty.span()=>
                    <#ty as #krate::__private::pending::OwnedSlice>::own(#arg));
                owned.push(quote!(#(#cfgs)* let #v = #own;));
                call_args.push(quote!(#(#cfgs)* &*#v));
            }
        }
    }
    let mut call = quote!(#ident(#(#call_args),*));
    if sig.unsafety.is_some() {
        // SAFETY (of the generated code): the export's contract is the host's to uphold.
        call = quote!(unsafe { #call });
    }
    let (id, result, host) =
        (hygienic("id".into()), hygienic("result".into()), hygienic("host".into()));
    let task_return = hygienic("task_return".into());
    let (ret_param, ret_arg) = match ret {
        Some(ty) => {
            let abi = result_abi(krate, ty);
            let value = quote_spanned!(types::error_span(ty)=>
                <#ty as #krate::__private::WasmResult>::into_abi(#result));
            (quote!(, #result: #abi), quote!(, #value))
        }
        None => (TokenStream::new(), TokenStream::new()),
    };
    let import_name = format!("[task-return]{name}");
    let stub_message = format!(
        "wasmexport: host import \"wasmexport\" {import_name:?} called in a build for a target \
         other than wasm: only a wasm host provides it"
    );
    let (run_fn, entered) = (hygienic("run".into()), hygienic("entered".into()));
    let run_params = params.iter().zip(&values).map(|(p, v)| {
        let cfgs = &p.cfgs;
        let ty = match p.lowering {
            Lowering::Value => p.ty.to_token_stream(),
            Lowering::Slice => {
                let ty = &p.ty;
                quote!(<#ty as #krate::__private::pending::OwnedSlice>::Owned)
            }
        };
        quote!(#(#cfgs)* #v: #ty)
    });
    let run_args = params.iter().zip(&values).map(|(p, v)| {
        let cfgs = &p.cfgs;
        quote!(#(#cfgs)* #v)
    });
    quote! {
        #[cfg(target_family = "wasm")]
        #[link(wasm_import_module = "wasmexport")]
        // The result type passed `WasmResult`, which is stricter than this lint, except that
        // the lint calls a pointer to an empty `#[repr(C)]` struct unsafe (Go's `*struct{}`).
        #[allow(improper_ctypes)]
        unsafe extern "C" {
            #[link_name = #import_name]
            fn #task_return(#id: ::core::primitive::i32 #ret_param);
        }
        #[cfg(not(target_family = "wasm"))]
        #[allow(unused_variables)]
        unsafe fn #task_return(#id: ::core::primitive::i32 #ret_param) {
            ::core::panic!("{}", #stub_message)
        }
        #[inline(never)]
        #[track_caller]
        fn #run_fn(#(#run_params),*) -> ::core::primitive::i32 {
            // The import stays in the module even when the future never completes (its call
            // would be dead code): hosts find pending exports by their `[task-return]` imports.
            ::core::hint::black_box(#task_return as *const ());
            #krate::__private::pending::start(#name, move |#id| async move {
                let #result = #call.await;
                // Marked as a host call, as any `#[wasmimport]`.
                // SAFETY: nothing but the import call comes between `enter` and `leave`.
                let #host = unsafe { #krate::__private::HostCall::enter() };
                // SAFETY: the host's `[task-return]` import takes the call's id and the result
                // in the export's wasm result type, as the host-async ABI says.
                unsafe { #task_return(#id #ret_arg) };
                #host.leave();
            })
        }
        let #entered = #krate::__private::AsyncCall::enter(#name);
        #(#owned)*
        #run_fn(#(#run_args),*)
    }
}

fn import_wrapper(import: &Import) -> TokenStream {
    let Import { module, name, decl, params, ret, krate } = import;
    let attrs = &decl.attrs;
    let sig = &decl.sig;
    let ident = &sig.ident;
    let mut wrapper_params = Vec::new();
    let mut extern_params = Vec::new();
    let mut converted = Vec::new();
    let mut args = Vec::new();
    for (i, p) in params.iter().enumerate() {
        let (cfgs, param_attrs, ty) = (&p.cfgs, &p.attrs, &p.ty);
        // The user's name, or for `_` one of ours.
        let value = match &p.pat {
            syn::Pat::Ident(pi) => pi.ident.clone(),
            _ => hygienic(format!("param{i}")),
        };
        wrapper_params.push(quote!(#(#param_attrs)* #value: #ty));
        let (names, tys) = abi_params(krate, p, |suffix| hygienic(format!("arg{i}{suffix}")));
        extern_params.extend(names.iter().zip(&tys).map(|(n, t)| quote!(#(#cfgs)* #n: #t)));
        args.extend(names.iter().map(|n| quote!(#(#cfgs)* #n)));
        converted.push(match p.lowering {
            Lowering::Value => {
                let abi = into_abi(krate, ty, value.to_token_stream());
                quote!(#(#cfgs)* let #(#names)* = #abi;)
            }
            Lowering::Slice => {
                let slice = slice(krate, ty);
                quote!(#(#cfgs)* let (#(#names),*) = #slice::into_raw(#value);)
            }
        });
    }
    // The extern fn is an item in the wrapper's body, which would shadow a parameter of the
    // same name whatever its hygiene: its name is one no parameter has.
    let mut import_fn = String::from("import");
    while params.iter().any(|p| matches!(&p.pat, syn::Pat::Ident(pi) if pi.ident == import_fn)) {
        import_fn.push('_');
    }
    let (ret_value, call) = (hygienic("ret".into()), hygienic("call".into()));
    // The call is located at the result type, where an error about it belongs.
    let import_fn = match ret {
        Some(ty) => hygienic_at(import_fn, ty),
        None => hygienic(import_fn),
    };
    let (abi_ret, ret_ty, body) = match ret {
        Some(ty) => {
            let abi = result_abi(krate, ty);
            let body = quote_spanned!(types::error_span(ty)=>
                <#ty as #krate::__private::WasmResult>::from_abi(#ret_value));
            (quote!(-> #abi), quote!(-> #ty), body)
        }
        None => (TokenStream::new(), TokenStream::new(), ret_value.to_token_stream()),
    };
    let vis = &decl.vis;
    let stub_message = format!(
        "wasmexport: host import {module:?} {name:?} (#[wasmimport] fn {}) called in a build for \
         a target other than wasm: only a wasm host provides it",
        ident.unraw()
    );
    // Arguments are converted before the host call is marked in flight and the result after
    // it ends, so that the window in which guest code runs with the mark set is the call alone.
    quote! {
        #(#attrs)*
        #vis unsafe fn #ident(#(#wrapper_params),*) #ret_ty {
            #[cfg(target_family = "wasm")]
            #[link(wasm_import_module = #module)]
            // The types passed `WasmType` and `WasmResult`, which are stricter than this lint,
            // except that the lint calls a pointer to an empty `#[repr(C)]` struct unsafe (Go's
            // `*struct{}`, an opaque handle).
            #[allow(improper_ctypes)]
            unsafe extern "C" {
                #[link_name = #name]
                fn #import_fn(#(#extern_params),*) #abi_ret;
            }
            // No wasm host to provide the import: a stub that says so, so that the crate links
            // and its other code can be unit-tested on the build machine.
            // Its parameters are the import's (two for each slice): as many as the host's ABI
            // has, which is not the user's to shorten.
            #[cfg(not(target_family = "wasm"))]
            #[allow(unused_variables, clippy::too_many_arguments)]
            unsafe fn #import_fn(#(#extern_params),*) #abi_ret {
                ::core::panic!("{}", #stub_message)
            }
            #(#converted)*
            // Marks a host call in flight, so that an export entered from inside it is known to
            // be a re-entrant call, not a stale state after a trap.
            // SAFETY: nothing but the import call comes between `enter` and `leave`: no
            // destructor, no other fn call.
            let #call = unsafe { #krate::__private::HostCall::enter() };
            // SAFETY: the caller of this `unsafe fn` upholds the host function's contract.
            let #ret_value = unsafe { #import_fn(#(#args),*) };
            #call.leave();
            #body
        }
    }
}
