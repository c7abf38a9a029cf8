use wasmexport::wasmexport;

#[wasmexport]
fn generic<T: Copy>(x: u32) -> u32 {
    x
}

#[wasmexport]
fn lifetime<'a>(x: u32) -> u32 {
    x
}

#[wasmexport]
fn constant<const N: usize>(x: u32) -> u32 {
    x
}

#[wasmexport]
fn bounded(x: u32) -> u32
where
    u32: Copy,
{
    x
}

fn main() {}
