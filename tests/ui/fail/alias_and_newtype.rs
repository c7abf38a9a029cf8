use wasmexport::wasmexport;

type Byte = u8;
type Text = String;
struct Handle(u32);

#[wasmexport]
fn alias(b: Byte) -> Text {
    let _ = b;
    String::new()
}

#[wasmexport]
fn newtype(h: Handle) -> u32 {
    h.0
}

fn main() {}
