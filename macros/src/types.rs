//! The types that may cross the boundary, by spelling: what can be told from the tokens alone
//! (a `u8`, a tuple, a `&i32`, a string result) is an error here, with a span; everything that
//! names another type (aliases, structs, pointees) is left to the runtime's traits, which see
//! through aliases and newtypes (`WasmType`, `WasmSlice`, `WasmResult`, `HostLayout`).

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Attribute, FnArg, Ident, Pat, ReturnType, Signature, Type};

/// The types that may cross, as the messages list them.
pub const ALLOWED: &str = "i32, u32, i64, u64, f32, f64, bool, usize, isize, *const T, *mut T \
     (or an alias of one), and as parameters &str, &[u8], &mut [u8]";

/// How a parameter crosses.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Lowering {
    /// One wasm value, through `WasmType`.
    Value,
    /// Two `i32`s, pointer then length, through `WasmSlice` (`&str`, `&[u8]`, `&mut [u8]`).
    Slice,
}

/// One typed parameter of an export or import.
pub struct Param {
    /// The parameter's `#[cfg]` attributes, which generated code repeats.
    pub cfgs: Vec<Attribute>,
    /// All its attributes (an import's wrapper keeps them).
    pub attrs: Vec<Attribute>,
    /// The pattern as written.
    pub pat: Pat,
    /// How trap messages name it: its ident, or its position for other patterns.
    pub label: String,
    pub ty: Type,
    pub lowering: Lowering,
    /// Whether the spelling check passed (then the trait checks apply).
    pub spelled_ok: bool,
}

/// The typed parameters of `sig`, with the spelling errors of their types in `errors`.
pub fn params(sig: &Signature, errors: &mut Vec<syn::Error>) -> Vec<Param> {
    let typed = sig.inputs.iter().filter_map(|arg| match arg {
        FnArg::Typed(pt) => Some(pt),
        FnArg::Receiver(_) => None,
    });
    typed
        .enumerate()
        .map(|(i, pt)| {
            let ty = (*pt.ty).clone();
            let check = check_param(&ty);
            let spelled_ok = check.is_ok();
            errors.extend(check.err());
            let label = match &*pt.pat {
                Pat::Ident(p) => syn::ext::IdentExt::unraw(&p.ident).to_string(),
                _ => format!("#{i}"),
            };
            Param {
                cfgs: pt.attrs.iter().filter(|a| a.path().is_ident("cfg")).cloned().collect(),
                attrs: pt.attrs.clone(),
                pat: (*pt.pat).clone(),
                label,
                lowering: lowering(&ty),
                ty,
                spelled_ok,
            }
        })
        .collect()
}

/// `None` for no result or `()` as written; an alias of `()` is a result that the `WasmResult`
/// trait lowers to nothing.
pub fn result_type(out: &ReturnType) -> Option<Type> {
    match out {
        ReturnType::Default => None,
        ReturnType::Type(_, ty) => match &**ty {
            Type::Tuple(t) if t.elems.is_empty() => None,
            Type::Paren(p) => result_type(&ReturnType::Type(Default::default(), p.elem.clone())),
            _ => Some((**ty).clone()),
        },
    }
}

fn unwrap(ty: &Type) -> &Type {
    match ty {
        Type::Paren(p) => unwrap(&p.elem),
        Type::Group(g) => unwrap(&g.elem),
        _ => ty,
    }
}

fn lowering(ty: &Type) -> Lowering {
    match unwrap(ty) {
        Type::Reference(_) => Lowering::Slice,
        _ => Lowering::Value,
    }
}

/// Where an error about `ty` points: the innermost pointee of a pointer (what must have a host
/// layout), else the type itself.
pub fn error_span(ty: &Type) -> Span {
    match unwrap(ty) {
        Type::Ptr(p) => error_span(&p.elem),
        _ => ty.span(),
    }
}

/// A parameter type by spelling.
pub fn check_param(ty: &Type) -> syn::Result<()> {
    let refuse = |why: &str| refuse(ty, why);
    match unwrap(ty) {
        Type::Reference(r) => match unwrap(&r.elem) {
            Type::Path(p) if p.path.is_ident("str") && r.mutability.is_some() => {
                refuse("`&mut str` (take `&mut [u8]`)")
            }
            Type::Path(p) if p.path.is_ident("str") => Ok(()),
            // `&[u8]` and `&mut [u8]`; `&[Byte]` too, and `&[u16]` gets the trait's error.
            Type::Slice(_) => Ok(()),
            _ => refuse(
                "a reference other than &str, &[u8] and &mut [u8] (pass other data through a \
                 raw pointer)",
            ),
        },
        Type::Tuple(t) if t.elems.is_empty() => refuse("`()` as a parameter"),
        _ => check_value(ty),
    }
}

/// A result type by spelling: one value, never a string or a buffer.
pub fn check_result(ty: &Type) -> syn::Result<()> {
    const HOW: &str = "a fn returns one scalar: to return text or bytes, return a pointer \
         (`*const u8`) and write the length through a `*mut u32` parameter, or pack both into a \
         u64";
    let owned = |name: &str| match unwrap(ty) {
        Type::Path(p) if p.qself.is_none() => {
            p.path.segments.last().is_some_and(|s| s.ident == name)
        }
        _ => false,
    };
    match unwrap(ty) {
        Type::Reference(_) | Type::Slice(_) => {
            Err(syn::Error::new_spanned(ty, format!("a reference or slice result: {HOW}")))
        }
        _ if owned("String") || owned("Vec") || owned("str") => {
            Err(syn::Error::new_spanned(ty, format!("a `String`, `Vec` or `str` result: {HOW}")))
        }
        _ => check_value(ty),
    }
}

fn refuse(ty: &Type, why: &str) -> syn::Result<()> {
    Err(syn::Error::new_spanned(
        ty,
        format!("{why} cannot cross the wasm boundary; allowed types: {ALLOWED}"),
    ))
}

/// Why a primitive spelled `ident` cannot cross as a value, or `None`.
fn prim_refusal(ident: &Ident) -> Option<String> {
    match ident.to_string().as_str() {
        prim @ ("u8" | "i8" | "u16" | "i16") => {
            Some(format!("`{prim}` (wasm has no {prim}; take a u32 or i32 and convert)"))
        }
        prim @ ("u128" | "i128" | "char" | "str" | "String") => Some(format!("`{prim}`")),
        _ => None,
    }
}

/// One wasm value by spelling. Paths that are not primitives (aliases, user types) pass here
/// and are checked by the `WasmType` trait in the expansion.
fn check_value(ty: &Type) -> syn::Result<()> {
    let refuse = |why: &str| refuse(ty, why);
    match unwrap(ty) {
        Type::Path(p) if p.qself.is_none() => match p.path.get_ident().and_then(prim_refusal) {
            Some(why) => refuse(&why),
            None => Ok(()),
        },
        Type::Path(_) => Ok(()),
        Type::Ptr(p) => match unwrap(&p.elem) {
            Type::Slice(_) | Type::TraitObject(_) => {
                refuse("a pointer to an unsized type (two words wide)")
            }
            Type::Path(inner) if inner.path.is_ident("str") => {
                refuse("a pointer to an unsized type (two words wide)")
            }
            _ => Ok(()),
        },
        Type::Reference(_) => refuse("a reference (pass a raw pointer)"),
        Type::Slice(_) | Type::Array(_) => refuse("a slice or array"),
        Type::Tuple(t) if t.elems.is_empty() => refuse("`()`"),
        Type::Tuple(_) => {
            refuse("a tuple (give each field its own parameter; a fn returns at most one value)")
        }
        Type::ImplTrait(_) => refuse("`impl Trait`"),
        Type::TraitObject(_) => refuse("a trait object"),
        Type::BareFn(_) => refuse("a fn pointer"),
        Type::Never(_) => refuse("`!`"),
        Type::Infer(_) => refuse("`_`"),
        Type::Macro(_) => refuse("a macro in type position"),
        _ => refuse("this type"),
    }
}

/// Whether `ty` can be named outside the fn (in a check emitted next to a rejected item):
/// not if it mentions `Self`, `impl Trait`, `_` or a macro.
pub fn nameable(ty: &Type) -> bool {
    use syn::visit::Visit;
    struct Finder(bool);
    impl Visit<'_> for Finder {
        fn visit_type_infer(&mut self, _: &syn::TypeInfer) {
            self.0 = false;
        }
        fn visit_type_macro(&mut self, _: &syn::TypeMacro) {
            self.0 = false;
        }
        fn visit_type_impl_trait(&mut self, _: &syn::TypeImplTrait) {
            self.0 = false;
        }
        fn visit_ident(&mut self, i: &Ident) {
            if i == "Self" {
                self.0 = false;
            }
        }
        fn visit_lifetime(&mut self, l: &syn::Lifetime) {
            // A named lifetime is the fn's own, unknown outside it.
            if l.ident != "static" {
                self.0 = false;
            }
        }
    }
    let mut f = Finder(true);
    f.visit_type(ty);
    f.0
}
