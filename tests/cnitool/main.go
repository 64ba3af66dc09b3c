// cnitool: a small CNI runtime built on libcni (Debian's golang-github-appc-cni-dev, the reference
// runtime library), so Fabric's tests drive the fabric plugin the way container runtimes do: the
// environment, the config on stdin with runtimeConfig and prevResult, result caching, chaining.
//
//	cnitool add|check|del|validate <conflist.json> <netns path> <container id> <ifname>
//
// CNI_PATH lists the plugin directories; CAP_ARGS (a JSON object) is passed as capability
// arguments (runtimeConfig); CNI_ARGS (K=V;...) as the args; CNI_CACHE_DIR is libcni's cache.
// ADD prints the result as JSON; an error prints the plugin's error and exits 1.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/libcni"
)

func main() {
	if len(os.Args) != 6 {
		fmt.Fprintln(os.Stderr, "usage: cnitool add|check|del|validate <conflist.json> <netns> <container id> <ifname>")
		os.Exit(2)
	}
	command, file, netns, id, ifname := os.Args[1], os.Args[2], os.Args[3], os.Args[4], os.Args[5]
	list, err := libcni.ConfListFromFile(file)
	fail(err)

	cacheDir := os.Getenv("CNI_CACHE_DIR")
	if cacheDir == "" {
		cacheDir = filepath.Join(os.TempDir(), "cnitool-cache")
	}
	cni := libcni.NewCNIConfigWithCacheDir(filepath.SplitList(os.Getenv("CNI_PATH")), cacheDir, nil)
	rt := &libcni.RuntimeConf{ContainerID: id, NetNS: netns, IfName: ifname, CacheDir: cacheDir}
	if caps := os.Getenv("CAP_ARGS"); caps != "" {
		fail(json.Unmarshal([]byte(caps), &rt.CapabilityArgs))
	}
	for _, pair := range strings.Split(os.Getenv("CNI_ARGS"), ";") {
		if kv := strings.SplitN(pair, "=", 2); len(kv) == 2 {
			rt.Args = append(rt.Args, [2]string{kv[0], kv[1]})
		}
	}

	ctx := context.Background()
	switch command {
	case "add":
		result, err := cni.AddNetworkList(ctx, list, rt)
		fail(err)
		out, err := json.Marshal(result)
		fail(err)
		fmt.Println(string(out))
	case "check":
		fail(cni.CheckNetworkList(ctx, list, rt))
	case "del":
		fail(cni.DelNetworkList(ctx, list, rt))
	case "validate":
		caps, err := cni.ValidateNetworkList(ctx, list)
		fail(err)
		fmt.Println(strings.Join(caps, " "))
	default:
		fail(fmt.Errorf("unknown command %q", command))
	}
}

func fail(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
