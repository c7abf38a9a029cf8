// The Go side of the add benchmark: a wasip1 reactor (go build -buildmode=c-shared).
package main

//go:wasmexport add
func add(x, y int32) int32 {
	return x + y
}

func main() {}
