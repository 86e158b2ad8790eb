package layoutgen

import (
	"strings"
	"testing"
)

const body = "#ifndef SHMRING_LAYOUT_H\n#define SHMRING_LAYOUT_H\n"

func TestParseReadsConstantsAndComments(t *testing.T) {
	lines, err := Parse([]byte(body + "/* ---- geometry ---- */\n#define SHMRING_MAX_TYPE 0xFFFFu /* user types */\n#define SHMRING_TAIL_OFFSET 128u\n#endif\n"))
	if err != nil {
		t.Fatal(err)
	}
	constants := Constants(lines)
	if len(constants) != 2 || constants[0] != (Constant{Name: "MAX_TYPE", Literal: "0xFFFF", Value: 0xFFFF, Comment: "user types"}) || constants[1].Value != 128 {
		t.Fatalf("constants %+v", constants)
	}
	if !lines[0].Section || lines[0].Comment != "geometry" {
		t.Fatalf("section line %+v", lines[0])
	}
	if name := constants[1].GoName(); name != "tailOffset" {
		t.Fatalf("GoName %q", name)
	}
}

// A macro the line parser cannot evaluate exactly must stop generation, not be skipped: a skipped
// constant would be missing from the pure-Go build only.
func TestParseRefusesWhatItCannotReadExactly(t *testing.T) {
	for _, bad := range []string{
		"#define SHMRING_TWO_BLOCKS (2 * SHMRING_BLOCK_LENGTH)\n#endif\n",
		"#define SHMRING_BIG 0x100000000u\n#endif\n",
		"#define SHMRING_A 1u\n#define SHMRING_A 2u\n#endif\n",
		"#include <stdint.h>\n#endif\n",
		"#define SHMRING_A 1u\n", // no #endif
	} {
		if _, err := Parse([]byte(body + bad)); err == nil {
			t.Errorf("Parse accepted %q", strings.TrimSpace(bad))
		}
	}
}
