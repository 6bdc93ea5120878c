// Command pulumi-resource-kubernetes serves the pulumi-kubernetes provider from its Go module.
//
// The upstream main embeds files that its release build generates; this one embeds
// schema-embed.json, which toolchain/build.sh writes with stamp.go (the module's schema.json
// with the version set, as the upstream generator does), and the module's
// terraform-mapping.json. Both are finished at build time: nothing is decoded at start-up.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var schemaJSON []byte

//go:embed terraform-mapping.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, schemaJSON, terraformMapping)
}
