package sim

import (
	"encoding/base64"
	"encoding/binary"
	"strconv"
)

// Everything the simulator serves is a pure function of (seed, dataset, index,
// field), so five million indicators cost no memory and every run with the
// same seed and clock serves the same bytes.

// dataset salts.
const (
	dsReports uint64 = 0x5245504f
	dsVulns   uint64 = 0x56554c4e
	dsInds    uint64 = 0x494e4443
	dsEvents  uint64 = 0x45564e54
)

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// h hashes (seed, salt, index, field) to 64 well-mixed bits.
func h(seed, salt uint64, i int, field uint64) uint64 {
	return splitmix(splitmix(splitmix(seed^salt)+uint64(i)) ^ (field * 0x9e3779b97f4a7c15))
}

// pick returns h mod n.
func pick(seed, salt uint64, i int, field uint64, n int) int {
	return int(h(seed, salt, i, field) % uint64(n))
}

// unit returns a float in [0, 1).
func unit(seed, salt uint64, i int, field uint64) float64 {
	return float64(h(seed, salt, i, field)>>11) / (1 << 53)
}

// feistel is a keyed 64-bit permutation, so ids look random but map back to
// their index.
func feistel(key, x uint64, inverse bool) uint64 {
	l, r := uint32(x>>32), uint32(x)
	if !inverse {
		for round := uint64(0); round < 4; round++ {
			l, r = r, l^uint32(splitmix(key+round*0x1000193+uint64(r)))
		}
		return uint64(l)<<32 | uint64(r)
	}
	for round := int64(3); round >= 0; round-- {
		l, r = r^uint32(splitmix(key+uint64(round)*0x1000193+uint64(l))), l
	}
	return uint64(l)<<32 | uint64(r)
}

// makeID returns the 22-character URL-safe id of (salt, index) — the shape of
// Flashpoint report, indicator and sighting ids.
func makeID(seed, salt uint64, i int) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], feistel(seed^salt, uint64(i), false))
	binary.BigEndian.PutUint64(b[8:], h(seed, salt, i, 0xc4ec))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// parseID inverts makeID; ok is false for an id this simulator never issued.
func parseID(seed, salt uint64, id string) (int, bool) {
	if len(id) != 22 {
		return 0, false
	}
	var b [16]byte
	if n, err := base64.RawURLEncoding.Decode(b[:], []byte(id)); err != nil || n != 16 {
		return 0, false
	}
	x := feistel(seed^salt, binary.BigEndian.Uint64(b[:8]), true)
	if x > 1<<40 {
		return 0, false
	}
	i := int(x)
	if binary.BigEndian.Uint64(b[8:]) != h(seed, salt, i, 0xc4ec) {
		return 0, false
	}
	return i, true
}

func hexOf(seed, salt uint64, i int, field uint64, nbytes int) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, nbytes*2)
	for k := 0; len(out) < nbytes*2; k++ {
		v := h(seed, salt, i, field+uint64(k)*7919)
		for j := 0; j < 8 && len(out) < nbytes*2; j++ {
			out = append(out, digits[v>>60&0xf], digits[v>>56&0xf])
			v <<= 8
		}
	}
	return string(out)
}

func base36(n uint64) string { return strconv.FormatUint(n, 36) }

var (
	words = []string{"update", "cdn", "secure", "login", "portal", "sync", "files", "cloud", "api", "mail",
		"auth", "static", "telemetry", "verify", "account", "docs", "support", "media", "invoice", "billing",
		"office", "drive", "share", "check", "service", "status", "news", "track", "beacon", "relay"}
	exampleZones = []string{"example", "example.com", "example.net", "example.org", "test", "invalid"}
	paths        = []string{"api/v2/beacon", "wp-content/uploads", "download", "gate.php", "files/p", "cdn/js", "panel/login", "update/check", "invoice", "img"}
	fileNames    = []string{"invoice_2025.zip", "update.exe", "setup.msi", "payload.bin", "doc.pdf.exe", "loader.dll", "report.xlsm", "chrome_patch.js"}

	malwareFamilies = []string{"mantisloader", "ledgerstealer", "qakbot", "lumma", "redline", "cobaltstrike", "asyncrat",
		"remcos", "agenttesla", "formbook", "icedid", "pikabot", "darkgate", "raccoon", "vidar", "njrat", "emotet", "sliver"}
	malwareClass = []string{"loader", "stealer", "loader", "stealer", "stealer", "backdoor", "rat",
		"rat", "stealer", "stealer", "loader", "loader", "loader", "stealer", "stealer", "rat", "loader", "backdoor"}
	actors       = []string{"GrayMantis", "ShadowLedger", "TA505", "FIN7", "Scattered Spider", "Wizard Spider", "APT28", "Lazarus Group", "Sandworm", "Kimsuky"}
	sightSources = []string{"flashpoint_extraction", "flashpoint_detection", "flashpoint_apt", "flashpoint_infected_hosts", "flashpoint_analyst", "flashpoint_collab", "external_intelligence"}
	oses         = []string{"windows", "linux", "macos", "android"}
	origins      = []string{"china", "russia", "north korea", "iran", "unknown"}

	mitre = []struct{ id, name, tactic string }{
		{"T1071.001", "Application Layer Protocol: Web Protocols", "Command and Control"},
		{"T1105", "Ingress Tool Transfer", "Command and Control"},
		{"T1566.001", "Phishing: Spearphishing Attachment", "Initial Access"},
		{"T1059.001", "Command and Scripting Interpreter: PowerShell", "Execution"},
		{"T1547.001", "Boot or Logon Autostart Execution: Registry Run Keys / Startup Folder", "Persistence"},
		{"T1055", "Process Injection", "Defense Evasion"},
		{"T1027", "Obfuscated Files or Information", "Defense Evasion"},
		{"T1555.003", "Credentials from Password Stores: Credentials from Web Browsers", "Credential Access"},
		{"T1041", "Exfiltration Over C2 Channel", "Exfiltration"},
		{"T1133", "External Remote Services", "Initial Access"},
		{"T1486", "Data Encrypted for Impact", "Impact"},
		{"T1082", "System Information Discovery", "Discovery"},
	}
)

// software catalogue: vendor, product, CPE vendor/product, part, versions.
type product struct {
	vendor, name, cpeVendor, cpeProduct, part string
	versions                                  []string
}

var catalogue = []product{
	{"Examplesoft", "Examplesoft EdgeGate", "examplesoft", "edgegate", "o", []string{"7.0.1", "7.0.12", "7.2.0", "7.2.3", "7.2.4", "7.4.0"}},
	{"Examplesoft", "Examplesoft Cloud Console", "examplesoft", "cloud_console", "a", []string{"3.1", "3.2", "3.2.5", "4.0"}},
	{"Contoso Software", "Contoso Helpdesk Portal", "contoso", "helpdesk_portal", "a", []string{"2.9.4", "3.0.0", "3.1.0", "3.1.2"}},
	{"Contoso Software", "Contoso Mail Server", "contoso", "mail_server", "a", []string{"10.0", "10.1", "11.0.2", "11.1"}},
	{"Fabrikam", "Fabrikam SecureVPN", "fabrikam", "securevpn", "a", []string{"9.1.0", "9.1.4", "9.2.0", "10.0.1"}},
	{"Fabrikam", "Fabrikam Router OS", "fabrikam", "router_os", "o", []string{"6.45.9", "6.48.6", "7.1", "7.12.1"}},
	{"Northwind Traders", "Northwind ERP", "northwind", "erp", "a", []string{"2021.1", "2022.3", "2023.2", "2024.1"}},
	{"Globex", "Globex Web Server", "globex", "web_server", "a", []string{"2.4.49", "2.4.50", "2.4.58", "2.4.62"}},
	{"Globex", "Globex Java Runtime", "globex", "java_runtime", "a", []string{"8u381", "11.0.20", "17.0.8", "21.0.1"}},
	{"Initech", "Initech File Transfer", "initech", "file_transfer", "a", []string{"2023.0.1", "2023.0.4", "2024.0.0"}},
	{"Initech", "Initech Print Spooler", "initech", "print_spooler", "a", []string{"5.0", "5.1", "5.2"}},
	{"Umbrella Corp", "Umbrella Firewall", "umbrella", "firewall", "h", []string{"4.2.1", "4.2.3", "4.4.0"}},
	{"Acme", "Acme Content Management", "acme", "content_management", "a", []string{"6.2.1", "6.3.0", "6.4.2", "6.5"}},
	{"Acme", "Acme Mobile App", "acme", "mobile_app", "a", []string{"1.8.2", "1.9.0", "2.0.0"}},
	{"Hooli", "Hooli Chat Desktop", "hooli", "chat_desktop", "a", []string{"3.3.1", "3.4.0", "3.5.2"}},
	{"Stark Industries", "Stark PLC Controller", "stark", "plc_controller", "h", []string{"1.0", "1.1", "2.0"}},
	{"libexampleparse Project", "libexampleparse", "libexampleparse_project", "libexampleparse", "a", []string{"2.12.0", "2.13.1", "2.14.2", "2.14.3"}},
	{"OpenExample Foundation", "OpenExample SSL", "openexample", "openexample_ssl", "a", []string{"1.1.1k", "1.1.1w", "3.0.8", "3.1.4"}},
	{"Vandelay Industries", "Vandelay Import Manager", "vandelay", "import_manager", "a", []string{"5.5", "5.6.1", "6.0"}},
	{"Wayne Enterprises", "Wayne Identity Server", "wayne", "identity_server", "a", []string{"8.0.3", "8.1.0", "9.0"}},
}

var vulnKinds = []struct{ title, cwe, name, description string }{
	{"Path Traversal Remote Code Execution", "22", "Improper Limitation of a Pathname to a Restricted Directory ('Path Traversal')", "contains a flaw that is triggered when handling crafted URL paths. This may allow a remote attacker to traverse directories and execute arbitrary code."},
	{"Heap Buffer Overflow", "122", "Heap-based Buffer Overflow", "contains a heap-based buffer overflow that may allow a context-dependent attacker to cause a denial of service or potentially execute arbitrary code."},
	{"SQL Injection", "89", "Improper Neutralization of Special Elements used in an SQL Command ('SQL Injection')", "contains a flaw that is triggered as input passed via a parameter is not properly sanitized before being used in an SQL query."},
	{"Cross-site Scripting", "79", "Improper Neutralization of Input During Web Page Generation ('Cross-site Scripting')", "does not validate input before returning it to users, which may allow an attacker to execute arbitrary script code in a user's browser session."},
	{"Authentication Bypass", "287", "Improper Authentication", "contains a flaw in the authentication logic that may allow a remote attacker to bypass authentication and gain administrative access."},
	{"Use-after-free Memory Corruption", "416", "Use After Free", "contains a use-after-free error that may allow a local attacker to corrupt memory and execute arbitrary code."},
	{"Server-Side Request Forgery", "918", "Server-Side Request Forgery (SSRF)", "does not validate URLs supplied by the user, which may allow an attacker to make the server send requests to internal hosts."},
	{"Deserialization of Untrusted Data", "502", "Deserialization of Untrusted Data", "deserializes untrusted data without validation, which may allow a remote attacker to execute arbitrary code."},
	{"Denial of Service", "400", "Uncontrolled Resource Consumption", "contains a flaw that may allow a remote attacker to exhaust resources and cause a denial of service."},
	{"Information Disclosure", "200", "Exposure of Sensitive Information to an Unauthorized Actor", "may disclose sensitive information to a remote attacker through verbose error messages."},
}

var reportTopics = []struct{ title, tags string }{
	{"Initial Access Broker Activity Targeting %s", "Initial Access Broker,Cyber Threats,Ransomware"},
	{"Weekly Vulnerability Roundup: %s", "Vulnerabilities,Weekly Roundup,Technology & Internet"},
	{"Ransomware Leak Site Trends in %s", "Ransomware,Extortion,Cyber Threats"},
	{"Key Developments: %s", "Key Developments,Geopolitics"},
	{"Infostealer Log Markets and %s", "Infostealers,Fraud,Cyber Threats"},
	{"Phishing Kit Evolution Targeting %s", "Phishing,Fraud,Financial Services"},
	{"Threat Actor Profile: %s", "Threat Actors,APT,Intelligence Report"},
	{"Exploitation of Edge Devices in %s", "Vulnerabilities,Edge Devices,Exploitation"},
}
var reportSubjects = []string{"Regional Healthcare Providers", "European Manufacturing", "North America", "Financial Services", "Higher Education", "Critical Infrastructure", "Retail and E-commerce", "Government Agencies", "Telecommunications", "Asia-Pacific Logistics"}
