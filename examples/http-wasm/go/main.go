// keygate in Go: the same http-wasm middleware as ../guest (API keys from the plugin config, a
// token bucket per client, 401 and 429 written by the guest), written by hand against the
// http-wasm ABI with //go:wasmexport and //go:wasmimport (Go >= 1.24), no library. Built with
// GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared: a reactor whose _initialize runs the
// Go runtime's start-up and init().
package main

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

//go:wasmimport http_handler get_config
func getConfig(buf unsafe.Pointer, limit uint32) uint32

//go:wasmimport http_handler get_header_values
func getHeaderValues(kind uint32, name unsafe.Pointer, nameLen uint32, buf unsafe.Pointer, limit uint32) uint64

//go:wasmimport http_handler set_header_value
func setHeaderValue(kind uint32, name unsafe.Pointer, nameLen uint32, value unsafe.Pointer, valueLen uint32)

//go:wasmimport http_handler remove_header
func removeHeader(kind uint32, name unsafe.Pointer, nameLen uint32)

//go:wasmimport http_handler set_status_code
func setStatusCode(code uint32)

//go:wasmimport http_handler write_body
func writeBody(kind uint32, body unsafe.Pointer, bodyLen uint32)

const (
	request  = 0
	response = 1
)

type client struct {
	name   string
	key    string
	tokens float64
	last   int64
}

var (
	clients   []client
	header    = "x-api-key"
	burst     = 10.0
	perSecond = 5.0
	keyBuf    [256]byte
	digits    [20]byte
)

func str(s string) (unsafe.Pointer, uint32) {
	return unsafe.Pointer(unsafe.StringData(s)), uint32(len(s))
}

func setHeader(kind uint32, name, value string) {
	n, nl := str(name)
	v, vl := str(value)
	setHeaderValue(kind, n, nl, v, vl)
}

func number(v any, def float64) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case string:
		if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil && f >= 0 {
			return f
		}
		panic(fmt.Sprintf("keygate config: not a number >= 0: %q", x))
	}
	return def
}

func init() {
	n := getConfig(nil, 0)
	buf := make([]byte, n)
	if n > 0 {
		getConfig(unsafe.Pointer(&buf[0]), n)
	}
	var cfg map[string]any
	if len(strings.TrimSpace(string(buf))) > 0 {
		if err := json.Unmarshal(buf, &cfg); err != nil {
			panic("keygate config: " + err.Error())
		}
	}
	burst = number(cfg["burst"], burst)
	perSecond = number(cfg["perSecond"], perSecond)
	if h, ok := cfg["header"].(string); ok && h != "" {
		header = strings.ToLower(h)
	}
	now := time.Now().UnixNano()
	if keys, ok := cfg["keys"].([]any); ok {
		for _, k := range keys {
			s, _ := k.(string)
			name, key, ok := strings.Cut(s, ":")
			if !ok || name == "" || key == "" {
				panic(fmt.Sprintf("keygate config: a key is not \"client:key\": %v", k))
			}
			clients = append(clients, client{name: name, key: key, tokens: burst, last: now})
		}
	}
}

func refuse(status uint32, retryAfter string, body string) {
	setHeader(response, "content-type", "text/plain; charset=utf-8")
	if retryAfter != "" {
		setHeader(response, "retry-after", retryAfter)
	}
	setStatusCode(status)
	b, bl := str(body)
	writeBody(response, b, bl)
}

//go:wasmexport handle_request
func handleRequest() uint64 {
	n, nl := str(header)
	countLen := getHeaderValues(request, n, nl, unsafe.Pointer(&keyBuf[0]), uint32(len(keyBuf)))
	length := uint32(countLen)
	var c *client
	if countLen>>32 != 0 && int(length) <= len(keyBuf) {
		key := keyBuf[:length]
		for i, b := range key {
			if b == 0 {
				key = key[:i]
				break
			}
		}
		for i := range clients {
			if clients[i].key == string(key) { // no allocation: compared in place
				c = &clients[i]
				break
			}
		}
	}
	if c == nil {
		refuse(401, "", "keygate: missing or unknown API key\n")
		return 0
	}
	now := time.Now().UnixNano()
	elapsed := float64(max(now-c.last, 0)) / 1e9
	c.last = max(c.last, now)
	tokens := min(c.tokens+elapsed*perSecond, burst)
	if tokens < 1 {
		c.tokens = tokens
		wait := 3600.0
		if perSecond > 0 {
			wait = math.Ceil((1 - tokens) / perSecond)
		}
		wait = min(max(wait, 1), 3600)
		refuse(429, string(strconv.AppendUint(digits[:0], uint64(wait), 10)), "keygate: rate limit exceeded\n")
		return 0
	}
	c.tokens = tokens - 1
	removeHeader(request, n, nl)
	setHeader(request, "x-client", c.name)
	remaining := strconv.AppendUint(digits[:0], uint64(c.tokens), 10)
	setHeader(response, "x-wasm-ratelimit-remaining", unsafe.String(&remaining[0], len(remaining)))
	return 1
}

//go:wasmexport handle_response
func handleResponse(reqCtx uint32, isError uint32) {}

func main() {}
