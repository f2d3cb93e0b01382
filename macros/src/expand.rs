//! Parsing the options and the `async fn`, and the expansion (rules in the crate docs).

use proc_macro2::TokenStream;
use quote::quote;
use syn::parse::Parser;
use syn::{ItemFn, LitBool, LitInt};

/// Which attribute is expanding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Main,
    Test,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Main => "#[ringio::main]",
            Kind::Test => "#[ringio::test]",
        }
    }
}

/// The options inside the attribute's parentheses.
#[derive(Default)]
struct Options {
    workers: Option<usize>,
    start_paused: bool,
}

/// What the attribute turns `item` into, or the error to show at its span (rule 3).
pub(crate) fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let options = parse_options(args)?;
    let item: ItemFn = syn::parse2(item)?;
    check_signature(kind, &item)?;

    let ItemFn {
        attrs,
        vis,
        mut sig,
        block,
    } = item;
    let output = sig.output.clone();
    let name = sig.ident.to_string();
    sig.asyncness = None;
    let test = (kind == Kind::Test).then(|| quote!(#[::core::prelude::v1::test]));
    let workers = options.workers.unwrap_or(1);
    let pause = options
        .start_paused
        .then(|| quote!(::ringio::time::pause();));
    Ok(quote! {
        #test
        #(#attrs)*
        #vis #sig {
            async fn __ringio_body() #output #block
            let runtime = ::ringio::Runtime::builder()
                .workers(#workers)
                .build()
                .unwrap_or_else(|e| {
                    ::core::panic!("ringio: cannot start the runtime of `{}`: {}", #name, e)
                });
            let output = runtime.block_on(async {
                #pause
                __ringio_body().await
            });
            ::core::mem::drop(runtime);
            output
        }
    })
}

fn parse_options(args: TokenStream) -> syn::Result<Options> {
    let mut options = Options::default();
    let mut seen_workers = false;
    let mut seen_paused = false;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("workers") {
            if seen_workers {
                return Err(meta.error("`workers` is given twice"));
            }
            seen_workers = true;
            let lit: LitInt = meta.value()?.parse()?;
            let n: usize = lit.base10_parse()?;
            if n == 0 {
                return Err(syn::Error::new(
                    lit.span(),
                    "`workers` must be at least 1: a runtime needs a core to run on",
                ));
            }
            options.workers = Some(n);
            Ok(())
        } else if meta.path.is_ident("start_paused") {
            if seen_paused {
                return Err(meta.error("`start_paused` is given twice"));
            }
            seen_paused = true;
            let lit: LitBool = meta.value()?.parse()?;
            if lit.value && !cfg!(feature = "test-util") {
                return Err(syn::Error::new(
                    lit.span(),
                    "`start_paused = true` needs ringio's feature `test-util`: add \
                     `features = [\"test-util\"]` to the ringio dependency (a \
                     dev-dependency is enough for tests)",
                ));
            }
            options.start_paused = lit.value;
            Ok(())
        } else {
            let path = meta
                .path
                .get_ident()
                .map_or_else(|| "this option".to_string(), |ident| format!("`{ident}`"));
            Err(meta.error(format!(
                "unknown option {path}: the options are `workers = N` and \
                 `start_paused = true`"
            )))
        }
    });
    parser.parse2(args)?;
    Ok(options)
}

fn check_signature(kind: Kind, item: &ItemFn) -> syn::Result<()> {
    let sig = &item.sig;
    if sig.asyncness.is_none() {
        return Err(syn::Error::new_spanned(
            sig.fn_token,
            format!(
                "{} needs an `async fn`: add `async` before `fn`",
                kind.name()
            ),
        ));
    }
    if !sig.inputs.is_empty() {
        return Err(syn::Error::new_spanned(
            &sig.inputs,
            format!(
                "{} takes a function without arguments; this one has {}",
                kind.name(),
                sig.inputs.len()
            ),
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(syn::Error::new_spanned(
            &sig.generics,
            format!(
                "{} takes a function without generic parameters",
                kind.name()
            ),
        ));
    }
    if let Some(variadic) = &sig.variadic {
        return Err(syn::Error::new_spanned(
            variadic,
            format!("{} takes a function without arguments", kind.name()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Kind, expand};
    use proc_macro2::TokenStream;

    /// The error `expand` gives, and the line and column (0-based) where its span starts.
    fn error(kind: Kind, args: &str, item: &str) -> (String, usize, usize) {
        let args: TokenStream = args.parse().expect("args parse as tokens");
        let item: TokenStream = item.parse().expect("item parses as tokens");
        let err = expand(kind, args, item).expect_err("this input must be refused");
        let start = err.span().start();
        (err.to_string(), start.line, start.column)
    }

    #[test]
    fn a_plain_async_fn_expands_to_a_runtime_and_block_on() {
        let out = expand(
            Kind::Test,
            "workers = 2".parse().expect("tokens"),
            "async fn t() -> Result<(), String> { Ok(()) }"
                .parse()
                .expect("tokens"),
        )
        .expect("accepted")
        .to_string();
        assert!(out.contains(":: core :: prelude :: v1 :: test"), "{out}");
        assert!(out.contains(":: ringio :: Runtime :: builder ()"), "{out}");
        assert!(out.contains(". workers (2usize)"), "{out}");
        assert!(out.contains("fn t () -> Result < () , String >"), "{out}");
        assert!(!out.contains("async fn t"), "{out}");
        assert!(!out.contains("pause"), "{out}");
    }

    #[test]
    fn main_adds_no_test_attribute() {
        let out = expand(
            Kind::Main,
            TokenStream::new(),
            "async fn main() {}".parse().expect("tokens"),
        )
        .expect("accepted")
        .to_string();
        assert!(!out.contains("test"), "{out}");
        assert!(out.contains(". workers (1usize)"), "{out}");
    }

    #[test]
    fn a_fn_without_async_is_refused_at_fn() {
        let (msg, line, column) = error(Kind::Main, "", "pub fn main() {}");
        assert!(msg.contains("#[ringio::main] needs an `async fn`"), "{msg}");
        assert_eq!((line, column), (1, 4), "points at `fn`");
    }

    #[test]
    fn arguments_are_refused_at_the_arguments() {
        let (msg, line, column) = error(Kind::Test, "", "async fn t(a: u32, b: u32) {}");
        assert!(msg.contains("without arguments; this one has 2"), "{msg}");
        assert_eq!((line, column), (1, 11), "points at `a`");
    }

    #[test]
    fn generics_are_refused_at_the_generics() {
        let (msg, _, column) = error(Kind::Test, "", "async fn t<T>() {}");
        assert!(msg.contains("without generic parameters"), "{msg}");
        assert_eq!(column, 10, "points at `<`");
    }

    #[test]
    fn an_unknown_option_is_refused_at_its_name() {
        let (msg, line, column) = error(Kind::Test, "workers = 2, flavor = 1", "async fn t() {}");
        assert!(msg.contains("unknown option `flavor`"), "{msg}");
        assert_eq!((line, column), (1, 13), "points at `flavor`");
    }

    #[test]
    fn zero_workers_are_refused_at_the_number() {
        let (msg, _, column) = error(Kind::Test, "workers = 0", "async fn t() {}");
        assert!(msg.contains("`workers` must be at least 1"), "{msg}");
        assert_eq!(column, 10, "points at `0`");
    }

    #[test]
    fn a_repeated_or_mistyped_option_is_refused() {
        let (msg, _, column) = error(Kind::Test, "workers = 1, workers = 2", "async fn t() {}");
        assert!(msg.contains("`workers` is given twice"), "{msg}");
        assert_eq!(column, 13);
        let (msg, _, column) = error(Kind::Test, "workers = \"2\"", "async fn t() {}");
        assert!(msg.contains("expected integer literal"), "{msg}");
        assert_eq!(column, 10);
        let (msg, _, _) = error(Kind::Test, "start_paused = yes", "async fn t() {}");
        assert!(msg.contains("expected boolean literal"), "{msg}");
    }

    #[test]
    fn start_paused_needs_the_test_util_feature() {
        let args: TokenStream = "start_paused = true".parse().expect("tokens");
        let item: TokenStream = "async fn t() {}".parse().expect("tokens");
        match expand(Kind::Test, args, item) {
            Ok(out) if cfg!(feature = "test-util") => {
                assert!(out.to_string().contains(":: ringio :: time :: pause ()"));
            }
            Err(err) if !cfg!(feature = "test-util") => {
                assert!(
                    err.to_string()
                        .contains("needs ringio's feature `test-util`")
                );
                assert_eq!(err.span().start().column, 15, "points at `true`");
            }
            other => panic!("unexpected: {:?}", other.map(|t| t.to_string())),
        }
    }
}
