//! Expansion: the user's item, unchanged, plus a shim that reaches the runtime only through
//! `::wasmexport::__private`. Every entry here takes and returns `proc_macro2` tokens, so the
//! whole macro can be driven outside the compiler (fuzzing, unit tests).

use crate::ast::{self, Context, ExportArgs, ImportArgs};
use crate::valid::{self, Export, Import};
use proc_macro2::TokenStream;
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::Type;
use syn::spanned::Spanned;

/// `#[wasmexport(attr)] item`.
pub fn wasmexport(attr: TokenStream, item: TokenStream, ctx: Context) -> TokenStream {
    let args = syn::parse2::<ExportArgs>(attr);
    let item = ast::parse_item(item);
    match valid::export(args, &item, ctx) {
        Ok(export) => export_shim(&export, ctx),
        Err(e) => with_errors(valid::passthrough(&item, ctx), e),
    }
}

/// `#[wasmexport::init] item`.
pub fn init(attr: TokenStream, item: TokenStream, ctx: Context) -> TokenStream {
    let item = ast::parse_item(item);
    match valid::init(attr, &item, ctx) {
        Ok(func) => {
            let ident = &func.sig.ident;
            let deps = direct_dependencies();
            quote! {
                #func
                ::wasmexport::__private::inventory::submit! {
                    ::wasmexport::__private::InitHook {
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
        Err(e) => with_errors(valid::passthrough(&item, ctx), e),
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
        Ok(func) => {
            let syn::ItemFn { attrs, vis, sig, block } = &func;
            let output = &sig.output;
            let marker = format_ident!("{MAIN_MARKER}");
            quote! {
                #(#attrs)*
                #vis fn main() #output {
                    ::wasmexport::__private::command_feature!();
                    ::wasmexport::__private::run_main(async move #block)
                }

                #[doc(hidden)]
                #[allow(non_upper_case_globals, dead_code)]
                const #marker: () = ();
            }
        }
        Err(e) => with_errors(valid::passthrough(&item, ctx), e),
    }
}

/// `#[wasmimport(module = "m", name = "n")] fn f(..) -> R;`.
pub fn wasmimport(attr: TokenStream, item: TokenStream, ctx: Context) -> TokenStream {
    let args = syn::parse2::<ImportArgs>(attr);
    let item = ast::parse_item(item);
    match valid::import(args, &item) {
        Ok(import) => import_wrapper(&import),
        Err(e) => with_errors(valid::passthrough(&item, ctx), e),
    }
}

fn with_errors(item: TokenStream, e: syn::Error) -> TokenStream {
    let errors = e.to_compile_error();
    quote!(#item #errors)
}

/// `<T as WasmType>::Abi`, and the conversions below, spanned on the user's type so that the
/// trait's `#[diagnostic::on_unimplemented]` message points at it, once (A6).
fn abi(ty: &Type) -> TokenStream {
    quote_spanned!(ty.span()=> <#ty as ::wasmexport::__private::WasmType>::Abi)
}

fn from_abi(ty: &Type, value: TokenStream) -> TokenStream {
    quote_spanned!(ty.span()=> <#ty as ::wasmexport::__private::WasmType>::from_abi(#value))
}

fn into_abi(ty: &Type, value: TokenStream) -> TokenStream {
    quote_spanned!(ty.span()=> <#ty as ::wasmexport::__private::WasmType>::into_abi(#value))
}

fn export_shim(export: &Export, ctx: Context) -> TokenStream {
    let Export { name, func, params, ret } = export;
    let sig = &func.sig;
    let ident = &sig.ident;
    // Spanned on the types too: rustc checks each binding's type at the binding's span.
    let args: Vec<_> = params
        .iter()
        .enumerate()
        .map(|(i, ty)| format_ident!("__wasmexport_arg{i}", span = ty.span()))
        .collect();
    let abi_params = params.iter().map(abi);
    let converted = params.iter().zip(&args).map(|(ty, arg)| from_abi(ty, quote!(#arg)));
    let mut call = quote!(#ident(#(#converted),*));
    if sig.unsafety.is_some() {
        // SAFETY (of the generated code): the export's contract is the host's to uphold,
        // exactly as for a hand-written `unsafe extern "C"` export.
        call = quote!(unsafe { #call });
    }
    if sig.asyncness.is_some() {
        call = quote!(#call.await);
    }
    let (abi_ret, body) = match ret {
        Some(ty) => {
            let abi = abi(ty);
            (quote!(-> #abi), into_abi(ty, call))
        }
        None => (TokenStream::new(), call),
    };
    let run = if sig.asyncness.is_some() {
        quote!(::wasmexport::__private::call_async(#name, async move { #body }))
    } else {
        quote!(::wasmexport::__private::call_sync(#name, move || #body))
    };
    // M4: a wasm command's exports run only while `_start` runs `main` on the executor, so a
    // bin must mark its main; without it this reference fails to resolve, naming the fix.
    let needs_main = if ctx.in_bin {
        let marker = format_ident!("{MAIN_MARKER}", span = ident.span());
        quote!(#[cfg(target_family = "wasm")] const _: () = crate::#marker;)
    } else {
        TokenStream::new()
    };
    quote! {
        #func
        #needs_main
        const _: () = {
            #[doc(hidden)]
            #[unsafe(export_name = #name)]
            extern "C" fn __wasmexport_shim(#(#args: #abi_params),*) #abi_ret {
                #run
            }
        };
    }
}

fn import_wrapper(import: &Import) -> TokenStream {
    let Import { module, name, decl, params, ret } = import;
    let attrs = &decl.attrs;
    let sig = &decl.sig;
    let ident = &sig.ident;
    // The wrapper's parameters keep the user's patterns (`mut x` included); everything else
    // names them by their ident (validation allows plain names only).
    let pats: Vec<_> = params.iter().map(|(p, _)| p).collect();
    let names: Vec<TokenStream> = pats
        .iter()
        .map(|pat| match pat {
            syn::Pat::Ident(p) => p.ident.to_token_stream(),
            other => other.to_token_stream(),
        })
        .collect();
    let tys: Vec<_> = params.iter().map(|(_, t)| t).collect();
    let abi_params = tys.iter().map(|ty| abi(ty));
    let converted = names.iter().zip(&tys).map(|(name, ty)| into_abi(ty, name.clone()));
    // Arguments are converted before the host call is marked in flight and the result after
    // it ends, so that the window in which guest code runs with the mark set is the call alone.
    let call = quote! {
        let __wasmexport_args = (#(#converted,)*);
        let __wasmexport_ret = {
            // Marks a host call in flight, so that an export entered from inside it is known
            // to be a re-entrant call (SPEC E7), not a stale state after a trap (E11).
            let __wasmexport_call = ::wasmexport::__private::HostCall::enter();
            let (#(#names,)*) = __wasmexport_args;
            // SAFETY: the caller of this `unsafe fn` upholds the host function's contract.
            unsafe { __wasmexport_import(#(#names),*) }
        };
    };
    let (abi_ret, ret_ty, body) = match ret {
        Some(ty) => {
            let abi = abi(ty);
            (quote!(-> #abi), quote!(-> #ty), from_abi(ty, quote!(__wasmexport_ret)))
        }
        None => (TokenStream::new(), TokenStream::new(), quote!(__wasmexport_ret)),
    };
    let vis = &decl.vis;
    quote! {
        #(#attrs)*
        #vis unsafe fn #ident(#(#pats: #tys),*) #ret_ty {
            #[link(wasm_import_module = #module)]
            unsafe extern "C" {
                #[link_name = #name]
                fn __wasmexport_import(#(#names: #abi_params),*) #abi_ret;
            }
            #call
            #body
        }
    }
}
