// Command pulumi-resource-kubernetes serves the pulumi-kubernetes provider from its Go module.
//
// The upstream main embeds files that its release build generates (schema-embed.json,
// terraform-mapping-embed.json); this one embeds the schema.json and terraform-mapping.json
// that ship in the module (copied next to this file by toolchain/build.sh) and stamps the
// version into the schema at start-up, which is what the upstream generator does.
package main

import (
	_ "embed"
	"encoding/json"
	"log"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema.json
var schemaJSON []byte

//go:embed terraform-mapping.json
var terraformMapping []byte

func main() {
	var spec map[string]any
	if err := json.Unmarshal(schemaJSON, &spec); err != nil {
		log.Fatalf("embedded schema.json: %v", err)
	}
	spec["version"] = version.Version
	versioned, err := json.Marshal(spec)
	if err != nil {
		log.Fatalf("re-encoding schema: %v", err)
	}
	provider.Serve("kubernetes", version.Version, versioned, terraformMapping)
}
