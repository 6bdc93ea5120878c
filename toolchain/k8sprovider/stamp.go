//go:build ignore

// Command stamp writes schema-embed.json: the module's schema.json with the provider's version
// set, compact. It runs once at build time (`go run stamp.go VERSION` in the build directory),
// so the provider embeds the finished bytes instead of decoding and re-encoding 7 MB of JSON
// on every start, which every `pulumi up` and preview waits for.
package main

import (
	"encoding/json"
	"log"
	"os"
)

func main() {
	if len(os.Args) != 2 || os.Args[1] == "" {
		log.Fatal("usage: go run stamp.go VERSION")
	}
	raw, err := os.ReadFile("schema.json")
	if err != nil {
		log.Fatal(err)
	}
	var spec map[string]any
	if err := json.Unmarshal(raw, &spec); err != nil {
		log.Fatalf("schema.json: %v", err)
	}
	spec["version"] = os.Args[1]
	out, err := json.Marshal(spec)
	if err != nil {
		log.Fatalf("re-encoding schema: %v", err)
	}
	if err := os.WriteFile("schema-embed.json", out, 0o600); err != nil {
		log.Fatal(err)
	}
}
