package awsconf

import (
	"testing"

	"github.com/hublake/hublake/internal/localstack"
)

func TestMain(m *testing.M) { localstack.Main(m) }
