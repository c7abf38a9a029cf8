//! `#[derive(HostLayout)]`: marks a struct whose layout a wasm host can compute, so that
//! pointers to it may cross the boundary (Go's `structs.HostLayout`).
//!
//! The derive checks what it can see (a struct, `#[repr(C)]` or `#[repr(transparent)]`) with
//! spanned errors, and leaves the fields to the trait: each field type must be `HostLayout`,
//! a bound spanned on the field, so aliases and nested structs are seen through.

use crate::ast::{CrateOnly, CratePath};
use crate::valid::Errors;
use proc_macro2::{Ident, Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput};

/// The derive's expansion: an `unsafe impl HostLayout` bounded on every field, or the errors.
pub fn derive(input: TokenStream) -> TokenStream {
    let input = match syn::parse2::<DeriveInput>(input) {
        Ok(input) => input,
        Err(e) => return e.to_compile_error(),
    };
    let mut errors = Errors::default();
    let mut krate = CratePath(None);
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("host_layout")) {
        match attr.parse_args::<CrateOnly>() {
            Ok(CrateOnly(path)) => krate = path,
            Err(e) => errors.add(e),
        }
    }
    let fields = match &input.data {
        Data::Struct(s) => Some(&s.fields),
        Data::Enum(e) => {
            errors.add(syn::Error::new(
                e.enum_token.span,
                "#[derive(HostLayout)] goes on a struct: a host cannot rely on an enum's layout \
                 (pass its discriminant as a u32 instead)",
            ));
            None
        }
        Data::Union(u) => {
            errors.add(syn::Error::new(
                u.union_token.span,
                "#[derive(HostLayout)] goes on a struct, not a union",
            ));
            None
        }
    };
    if fields.is_some() && !has_host_repr(&input) {
        errors.add(syn::Error::new(
            input.ident.span(),
            format!(
                "#[derive(HostLayout)] needs #[repr(C)] or #[repr(transparent)] on `{}`: Rust's \
                 default layout may reorder fields, so a host cannot rely on it",
                input.ident
            ),
        ));
    }
    if let Err(e) = errors.finish(()) {
        return e.to_compile_error();
    }
    let krate = krate.path();
    let ident = &input.ident;
    let generics = &input.generics;
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    // The impl is bounded on the type parameters, as std's derives are, not on the field
    // types: a bound `*const Self: HostLayout` (a linked list) would be a cycle.
    let mut bounds: Vec<TokenStream> =
        where_clause.map(|w| w.predicates.iter().map(|p| quote!(#p)).collect()).unwrap_or_default();
    bounds.extend(generics.type_params().map(|t| {
        let t = &t.ident;
        quote!(#t: #krate::__private::HostLayout)
    }));
    // Each field is checked by a call spanned on its type, so that the trait's message points
    // at the field.
    let assert = Ident::new("assert_host_layout", Span::mixed_site());
    let check = Ident::new("check_fields", Span::mixed_site());
    let checks = fields.into_iter().flatten().map(|f| {
        let ty = &f.ty;
        quote_spanned!(ty.span()=> #assert::<#ty>();)
    });
    quote! {
        // SAFETY: the struct is `#[repr(C)]` or `#[repr(transparent)]` (checked by the derive),
        // so its layout follows C's rules on wasm32, and every field has a host layout
        // (checked below).
        unsafe impl #impl_generics #krate::__private::HostLayout for #ident #ty_generics
        where #(#bounds,)*
        {}

        const _: () = {
            fn #assert<T: #krate::__private::HostLayout + ?::core::marker::Sized>() {}
            #[allow(dead_code)]
            fn #check #impl_generics() where #(#bounds,)* {
                #(#checks)*
            }
        };
    }
}

/// Whether a `#[repr(..)]` says `C` or `transparent` (alongside `align`, `packed` or others).
fn has_host_repr(input: &DeriveInput) -> bool {
    let mut found = false;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("repr")) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("C") || meta.path.is_ident("transparent") {
                found = true;
            }
            if meta.input.peek(syn::token::Paren) {
                let content;
                syn::parenthesized!(content in meta.input);
                content.parse::<TokenStream>()?;
            }
            Ok(())
        });
    }
    found
}
