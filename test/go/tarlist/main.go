// tarlist prints what Go's archive/tar reads from a tar file, one JSON object
// a line, for test/unit/tar-go.test.ts to compare with tsrun's reader. Names,
// link names and xattr values are hex bytes (never decoded); data is the
// sha256 of the logical content (a sparse file's holes read as zeros). A read
// error ends the listing with {"error": ...}; an entry is printed only once
// its data has been read in full, so an error in the data hides the entry.
// Standard library only: built with GOTOOLCHAIN=local GOPROXY=off.
package main

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

type entry struct {
	Name   string            `json:"name"`
	Link   string            `json:"link"`
	Type   string            `json:"type"`
	Size   int64             `json:"size"`
	Mode   int64             `json:"mode"`
	UID    int               `json:"uid"`
	GID    int               `json:"gid"`
	Mtime  int64             `json:"mtime"`
	Xattrs map[string]string `json:"xattrs"`
	Data   string            `json:"data"`
}

func main() {
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	out := json.NewEncoder(os.Stdout)
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			out.Encode(map[string]string{"error": err.Error()})
			return
		}
		sum := sha256.New()
		if _, err := io.Copy(sum, tr); err != nil {
			out.Encode(map[string]string{"error": err.Error()})
			return
		}
		x := map[string]string{}
		keys := []string{}
		for k := range h.PAXRecords {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if strings.HasPrefix(k, "SCHILY.xattr.") {
				x[k[len("SCHILY.xattr."):]] = hex.EncodeToString([]byte(h.PAXRecords[k]))
			}
		}
		out.Encode(entry{
			Name: hex.EncodeToString([]byte(h.Name)), Link: hex.EncodeToString([]byte(h.Linkname)),
			Type: string([]byte{h.Typeflag}), Size: h.Size, Mode: h.Mode, UID: h.Uid, GID: h.Gid,
			Mtime: h.ModTime.Unix(), Xattrs: x, Data: hex.EncodeToString(sum.Sum(nil)),
		})
	}
}
