//! `wasmexport::set_trap_reporter` on wasmtime with the `reporter` guest: every `wasmexport:`
//! line reaches the host through the guest's own import, before the trap, also on a poisoned
//! instance, and a reporter that fails neither recurses nor hides the trap.

use std::sync::{Arc, Mutex};
use wasmexport_engine_tests::{Guest, Host, engine, module};
use wasmtime::{Caller, Linker, Result, bail};

/// The lines the guest handed to `test.report`, in order.
type Lines = Arc<Mutex<Vec<String>>>;

fn read_line(caller: &mut Caller<'_, Host>, ptr: u32, len: u32) -> Result<String> {
    let Some(memory) = caller.get_export("memory").and_then(|e| e.into_memory()) else {
        bail!("the guest has no memory");
    };
    let mut buf = vec![0; len as usize];
    memory.read(&*caller, ptr as usize, &mut buf)?;
    Ok(String::from_utf8(buf)?)
}

fn guest() -> (Guest, Lines) {
    let lines = Lines::default();
    let seen = lines.clone();
    let add = move |linker: &mut Linker<Host>| -> Result<()> {
        linker.func_wrap(
            "test",
            "report",
            move |mut caller: Caller<'_, Host>, ptr: u32, len: u32| -> Result<()> {
                let line = read_line(&mut caller, ptr, len)?;
                seen.lock().unwrap().push(line);
                Ok(())
            },
        )?;
        linker.func_wrap(
            "test",
            "report_traps",
            |_: Caller<'_, Host>, _: u32, _: u32| -> Result<()> {
                bail!("the host's report failed")
            },
        )?;
        Ok(())
    };
    let g = Guest::init_with_imports(engine(), &module("reporter"), add).unwrap();
    (g, lines)
}

fn taken(lines: &Lines) -> Vec<String> {
    std::mem::take(&mut *lines.lock().unwrap())
}

#[test]
fn a_panic_and_the_call_after_it_reach_the_reporter() {
    let (mut g, lines) = guest();
    assert_eq!(g.call::<(i32, i32), i32>("add", (40, 2)).unwrap(), 42);
    assert!(taken(&lines).is_empty(), "a call that returns reports nothing");

    g.call::<i32, ()>("boom", 7).unwrap_err();
    let got = taken(&lines);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].starts_with("wasmexport: panic in export \"boom\": boom with code 7 at "));
    // The reporter gets the very line stderr got, without its newline.
    assert_eq!(g.stderr(), format!("{}\n", got[0]));

    g.call::<(i32, i32), i32>("add", (1, 2)).unwrap_err();
    let got = taken(&lines);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].starts_with("wasmexport: module poisoned by an earlier panic: export \"add\""),
        "{got:?}"
    );
    assert!(g.stderr().ends_with(&format!("{}\n", got[0])));
}

#[test]
fn a_deadlock_reaches_the_reporter() {
    let (mut g, lines) = guest();
    g.call::<(), ()>("stuck", ()).unwrap_err();
    let got = taken(&lines);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].starts_with("wasmexport: all tasks are asleep - deadlock!"), "{got:?}");
    assert!(got[0].contains("\"stuck\""), "{got:?}");
    // The trapped call poisons the instance; the next call's line is reported too.
    g.call::<(i32, i32), i32>("add", (1, 2)).unwrap_err();
    let got = taken(&lines);
    assert!(got.len() == 1 && got[0].contains("module poisoned"), "{got:?}");
}

#[test]
fn a_reporter_that_panics_does_not_recurse() {
    let (mut g, lines) = guest();
    g.call::<u32, ()>("reporter_fails", 1).unwrap();
    // The deadlock's line reaches the reporter, which reports it, then panics: the panic's own
    // line goes to stderr only (the reporter is not run again), and the call traps.
    g.call::<(), ()>("stuck", ()).unwrap_err();
    let got = taken(&lines);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].contains("deadlock"), "{got:?}");
    let stderr = g.stderr();
    assert!(
        stderr.contains("wasmexport: panic in export \"stuck\": the reporter failed"),
        "{stderr}"
    );
}

#[test]
fn a_reporter_that_traps_just_traps() {
    let (mut g, lines) = guest();
    g.call::<u32, ()>("reporter_fails", 2).unwrap();
    g.call::<i32, ()>("boom", 5).unwrap_err();
    assert!(g.stderr().contains("boom with code 5"));
    // The instance is dead; later calls still trap with their line on stderr.
    g.call::<(i32, i32), i32>("add", (1, 2)).unwrap_err();
    assert!(g.stderr().contains("module poisoned by an earlier panic: export \"add\""));
    assert!(taken(&lines).is_empty());
}
