package deploytest

import (
	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// checkedBy names, for every file in deploy/, the test that parses it. A
// file added without a check fails TestEveryFileChecked.
var checkedBy = map[string]string{
	"deploy/README.md":                     "TestReadme",
	"deploy/Dockerfile":                    "TestDockerfile",
	"deploy/Dockerfile.dockerignore":       "TestDockerignore",
	"deploy/compose.yaml":                  "TestCompose",
	"deploy/prometheus.yml":                "TestCompose",
	"deploy/nanogate.compose.toml":         "TestCompose, TestDockerfile",
	"deploy/nanogate.toml":                 "TestSystemd",
	"deploy/nanogate.service":              "TestSystemd",
	"deploy/nanogate-demo-worker@.service": "TestSystemd",
	"deploy/kubernetes/kustomization.yaml": "TestKubernetes",
	"deploy/kubernetes/configmap.yaml":     "TestKubernetes",
	"deploy/kubernetes/deployment.yaml":    "TestKubernetes",
	"deploy/kubernetes/service.yaml":       "TestKubernetes",
	"deploy/kubernetes/pdb.yaml":           "TestKubernetes",
}

func TestEveryFileChecked(t *testing.T) {
	var found []string
	err := filepath.WalkDir(path(deployDir), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(rootDir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == deployDir+"/deploytest" {
				return filepath.SkipDir
			}
			return nil
		}
		found = append(found, rel)
		if _, ok := checkedBy[rel]; !ok {
			t.Errorf("%s: no test parses it; add its checks and list it in checkedBy", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for f := range checkedBy {
		if !slices.Contains(found, f) {
			t.Errorf("%s: listed in checkedBy but missing", f)
		}
	}
}

// TestReadme: deploy/README.md names every file of deploy/ and every
// repository path it names exists.
func TestReadme(t *testing.T) {
	const readme = "deploy/README.md"
	text := readFile(t, readme)
	for f := range checkedBy {
		if f == readme {
			continue
		}
		if !strings.Contains(text, filepath.Base(f)) {
			t.Errorf("%s does not mention %s", readme, f)
		}
	}
	re := regexp.MustCompile("`((?:deploy|cmd|admin|config|backend-sdk)/[^` ]*)`")
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		if _, err := filepath.Glob(path(m[1])); err != nil {
			t.Errorf("%s: %s: %v", readme, m[1], err)
		}
		if matches, _ := filepath.Glob(path(strings.TrimSuffix(m[1], "/"))); len(matches) == 0 {
			t.Errorf("%s names %s, which does not exist", readme, m[1])
		}
	}
}
