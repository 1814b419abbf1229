package web

import (
	"strings"

	"github.com/flintcti/flint/internal/intel"
)

// A CVSS vector decoded into its metrics, for the exploitability view.

type decodedVector struct {
	Version string
	Score   float64
	Vector  string
	Source  string
	Metrics []metric
}

type metric struct {
	Key, Name, Value string
}

// metricNames name the metrics of CVSS v2, v3 and v4 (FIRST's
// specifications).
var metricNames = map[string]string{
	"AV": "Attack Vector", "AC": "Attack Complexity", "AT": "Attack Requirements", "PR": "Privileges Required",
	"UI": "User Interaction", "S": "Scope", "C": "Confidentiality", "I": "Integrity", "A": "Availability",
	"Au": "Authentication", "E": "Exploit Code Maturity", "RL": "Remediation Level", "RC": "Report Confidence",
	"VC": "Vulnerable System Confidentiality", "VI": "Vulnerable System Integrity", "VA": "Vulnerable System Availability",
	"SC": "Subsequent System Confidentiality", "SI": "Subsequent System Integrity", "SA": "Subsequent System Availability",
	"CR": "Confidentiality Requirement", "IR": "Integrity Requirement", "AR": "Availability Requirement",
	"AU": "Automatable", "R": "Recovery", "V": "Value Density", "RE": "Vulnerability Response Effort",
	"U": "Provider Urgency", "CDP": "Collateral Damage Potential", "TD": "Target Distribution",
}

// metricValues name the values, per metric where a letter means
// different things.
var metricValues = map[string]map[string]string{
	"AV": {"N": "Network", "A": "Adjacent", "L": "Local", "P": "Physical"},
	"AC": {"L": "Low", "H": "High", "M": "Medium"},
	"AT": {"N": "None", "P": "Present"},
	"PR": {"N": "None", "L": "Low", "H": "High"},
	"UI": {"N": "None", "R": "Required", "P": "Passive", "A": "Active"},
	"S":  {"U": "Unchanged", "C": "Changed"},
	"Au": {"N": "None", "S": "Single", "M": "Multiple"},
	"E":  {"X": "Not Defined", "U": "Unproven", "P": "Proof-of-Concept", "F": "Functional", "H": "High", "A": "Attacked", "POC": "Proof-of-Concept", "ND": "Not Defined"},
	"RL": {"X": "Not Defined", "O": "Official Fix", "T": "Temporary Fix", "W": "Workaround", "U": "Unavailable", "OF": "Official Fix", "TF": "Temporary Fix", "ND": "Not Defined"},
	"RC": {"X": "Not Defined", "U": "Unknown", "R": "Reasonable", "C": "Confirmed", "UC": "Unconfirmed", "UR": "Uncorroborated", "ND": "Not Defined"},
}

// impactValues name C, I, A and the v4 impact metrics.
var impactValues = map[string]string{"N": "None", "L": "Low", "H": "High", "P": "Partial", "C": "Complete", "X": "Not Defined"}

func decodeVector(c *intel.CVSS) decodedVector {
	d := decodedVector{Version: c.Version, Score: c.Score, Vector: c.Vector, Source: c.Source}
	for _, part := range strings.Split(strings.TrimPrefix(strings.TrimPrefix(c.Vector, "("), ")"), "/") {
		key, val, ok := strings.Cut(strings.TrimSuffix(part, ")"), ":")
		if !ok || key == "CVSS" {
			continue
		}
		name := metricNames[key]
		if name == "" {
			name = key
		}
		value := val
		if key == "E" && val == "U" && strings.HasPrefix(c.Version, "4") {
			value = "Unreported" // v4's E:U; v3's is Unproven
		} else if vals, ok := metricValues[key]; ok && vals[val] != "" {
			value = vals[val]
		} else if impactValues[val] != "" {
			value = impactValues[val]
		}
		d.Metrics = append(d.Metrics, metric{Key: key, Name: name, Value: value})
	}
	return d
}
