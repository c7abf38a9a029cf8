//! Parsing: attribute arguments and the annotated item, into a small typed AST.
//!
//! Parsing accepts more than is valid (methods, generics, any type) so that `valid.rs` can
//! report every problem with its own span instead of stopping at the first syn parse error.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::{Ident, ItemFn, LitStr, Token};

/// The export (or import) name, and where it came from.
pub struct Name {
    pub value: String,
    pub span: Span,
    /// True when the name was written in the attribute, false when taken from the fn ident.
    pub explicit: bool,
}

/// `crate = path`: where the runtime crate is, for a renamed dependency
/// (`we = { package = "wasmexport", .. }`); `::wasmexport` when absent.
pub struct CratePath(pub Option<syn::Path>);

impl CratePath {
    /// The path generated code reaches the runtime through.
    pub fn path(&self) -> TokenStream {
        match &self.0 {
            Some(path) => path.to_token_stream(),
            None => quote!(::wasmexport),
        }
    }

    /// If the input is at `crate = path`, parses it (and a trailing comma) into `self`.
    fn parse_if_next(&mut self, input: ParseStream) -> syn::Result<bool> {
        if !(input.peek(Token![crate]) && input.peek2(Token![=])) {
            return Ok(false);
        }
        let key: Token![crate] = input.parse()?;
        input.parse::<Token![=]>()?;
        let path = input.call(syn::Path::parse_mod_style)?;
        if self.0.is_some() {
            return Err(syn::Error::new(key.span, "`crate` is given twice"));
        }
        self.0 = Some(path);
        if !input.is_empty() {
            input.parse::<Token![,]>()?;
        }
        Ok(true)
    }
}

/// The arguments of `#[wasmexport::init]`, `#[wasmexport::main]` and the derive's
/// `#[host_layout(..)]`: `crate = path` only.
pub struct CrateOnly(pub CratePath);

impl Parse for CrateOnly {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut krate = CratePath(None);
        if !input.is_empty() {
            krate.parse_if_next(input)?;
        }
        if !input.is_empty() {
            return Err(
                input.error("the only argument is `crate = path` (for a renamed dependency)")
            );
        }
        Ok(CrateOnly(krate))
    }
}

/// `#[wasmexport]`, `#[wasmexport(name)]` or `#[wasmexport("any string")]`, each optionally
/// with `pending` (an `async fn` that returns to the host while it waits) and `crate = path`.
pub struct ExportArgs {
    pub name: Option<Name>,
    pub krate: CratePath,
    /// Where `pending` was written, if it was.
    pub pending: Option<Span>,
}

const ONE_NAME: &str =
    "expected one export name: #[wasmexport], #[wasmexport(name)] or #[wasmexport(\"name\")]";

impl Parse for ExportArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut args = ExportArgs { name: None, krate: CratePath(None), pending: None };
        while !input.is_empty() {
            if args.krate.parse_if_next(input)? {
                continue;
            }
            // `pending` is the flag; an export named "pending" is written as a string.
            if input.peek(Ident) && (input.peek2(Token![,]) || peek_last(input)) {
                let fork = input.fork();
                let ident: Ident = fork.parse()?;
                if ident == "pending" {
                    input.parse::<Ident>()?;
                    if args.pending.replace(ident.span()).is_some() {
                        return Err(syn::Error::new(ident.span(), "`pending` is given twice"));
                    }
                    if !input.is_empty() {
                        input.parse::<Token![,]>()?;
                    }
                    continue;
                }
            }
            if args.name.is_some() {
                return Err(input.error(ONE_NAME));
            }
            args.name = Some(parse_name(input)?);
            if !input.is_empty() && input.parse::<Token![,]>().is_err() {
                return Err(input.error(ONE_NAME));
            }
        }
        Ok(args)
    }
}

/// True if one token tree is left.
fn peek_last(input: ParseStream) -> bool {
    let fork = input.fork();
    fork.parse::<proc_macro2::TokenTree>().is_ok() && fork.is_empty()
}

/// An ident (raw or keyword, exported without `r#`) or a string literal.
pub fn parse_name(input: ParseStream) -> syn::Result<Name> {
    let lookahead = input.lookahead1();
    if lookahead.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        Ok(Name { value: lit.value(), span: lit.span(), explicit: true })
    } else if lookahead.peek(Ident::peek_any) {
        let ident = input.call(Ident::parse_any)?;
        Ok(Name { value: ident.unraw().to_string(), span: ident.span(), explicit: true })
    } else {
        Err(lookahead.error())
    }
}

/// `#[wasmimport(module = "m", name = "n", crate = path)]`: all optional in the syntax, `module`
/// required by validation so that its error has a span.
pub struct ImportArgs {
    pub module: Option<Name>,
    pub name: Option<Name>,
    pub krate: CratePath,
    pub span: Span,
}

impl Parse for ImportArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let span = input.span();
        let mut args = ImportArgs { module: None, name: None, krate: CratePath(None), span };
        while !input.is_empty() {
            if args.krate.parse_if_next(input)? {
                continue;
            }
            let key = input.call(Ident::parse_any)?;
            input.parse::<Token![=]>()?;
            let value = parse_name(input)?;
            let slot = match key.to_string().as_str() {
                "module" => &mut args.module,
                "name" => &mut args.name,
                _ => {
                    return Err(syn::Error::new(
                        key.span(),
                        "unknown argument: expected `module = \"...\"`, `name = \"...\"` or `crate = path`",
                    ));
                }
            };
            if slot.is_some() {
                return Err(syn::Error::new(key.span(), format!("`{key}` is given twice")));
            }
            *slot = Some(value);
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        Ok(args)
    }
}

/// What the attribute was put on.
pub enum Item {
    /// A fn with a body: free, or (if the scan of the source says so) associated.
    Fn(ItemFn),
    /// A fn without a body (`fn f();`), as in a trait or an `extern` block.
    Decl(syn::ForeignItemFn),
    /// Anything else: the tokens, to emit again unchanged next to the error.
    Other(TokenStream),
}

/// Parses the annotated item; never fails, the kind decides what validation says.
pub fn parse_item(tokens: TokenStream) -> Item {
    if let Ok(f) = syn::parse2::<ItemFn>(tokens.clone()) {
        return Item::Fn(f);
    }
    match syn::ForeignItemFn::parse.parse2(tokens.clone()) {
        Ok(f) => Item::Decl(f),
        Err(_) => Item::Other(tokens),
    }
}

/// Where the fn stands, as far as the macro can tell from the source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Enclosing {
    /// Not found in the source: generated by another macro, or no source to read.
    #[default]
    Unknown,
    /// At module level or in a fn body.
    Free,
    /// Directly inside an `impl` block.
    Impl,
    /// Directly inside a `trait` block.
    Trait,
    /// Directly inside an `extern` block.
    Extern,
}

/// What the proc-macro entry knows that the token-level core cannot see.
#[derive(Clone, Copy, Debug, Default)]
pub struct Context {
    pub enclosing: Enclosing,
    /// Cargo is compiling a `bin` target (`CARGO_BIN_NAME` is set).
    pub in_bin: bool,
}
