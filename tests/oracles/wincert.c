/* Source: copied unchanged (apart from this comment) from the reference oracles of the
 * project's research notes (docs/spec/windows-formats.md §10 describes it), whose README
 * states "This source may be copied into the project's own interop tests" (that
 * permission is its licence terms).
 * Test-only: compiled by tests/interop_build.rs with x86_64-w64-mingw32-gcc and run
 * under Wine; never part of the certgpo product.
 */
/* wincert: an independent check of Windows certificate-store formats, run under Wine.
 *
 *   wincert blob FILE              deserialize a registry "Blob" value (serialized store element)
 *   wincert store LOCATION NAME    list a registry-backed system store
 *        LOCATION: lm | lm-policy | cu | cu-policy
 *   wincert chain CERTFILE HOST    build a chain for a DER certificate (usage: server authentication)
 *                                  and run the SSL policy for HOST
 *
 * Output is one line per certificate: THUMBPRINT<TAB>SUBJECT<TAB>FRIENDLY<TAB>EKU-OIDS(comma)<TAB>DERLEN
 */
#define UNICODE
#include <windows.h>
#include <wincrypt.h>
#include <stdio.h>
#include <stdlib.h>

static BYTE *slurp(const char *path, DWORD *len) {
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "cannot open %s\n", path); exit(2); }
    fseek(f, 0, SEEK_END); long n = ftell(f); fseek(f, 0, SEEK_SET);
    BYTE *buf = malloc(n ? n : 1);
    if (fread(buf, 1, n, f) != (size_t)n) { fprintf(stderr, "short read\n"); exit(2); }
    fclose(f); *len = (DWORD)n; return buf;
}

static void print_cert(PCCERT_CONTEXT c) {
    BYTE hash[20]; DWORD hl = sizeof hash;
    if (CertGetCertificateContextProperty(c, CERT_SHA1_HASH_PROP_ID, hash, &hl))
        for (DWORD i = 0; i < hl; i++) printf("%02X", hash[i]);
    else printf("NOHASH");
    WCHAR name[512];
    CertGetNameStringW(c, CERT_NAME_SIMPLE_DISPLAY_TYPE, 0, NULL, name, 512);
    printf("\t%ls", name);
    WCHAR friendly[512]; DWORD fl = sizeof friendly;
    if (CertGetCertificateContextProperty(c, CERT_FRIENDLY_NAME_PROP_ID, friendly, &fl)) printf("\t%ls", friendly);
    else printf("\t-");
    BYTE eku[4096]; DWORD el = sizeof eku;
    printf("\t");
    if (CertGetCertificateContextProperty(c, CERT_ENHKEY_USAGE_PROP_ID, eku, &el)) {
        CERT_ENHKEY_USAGE *u = NULL; DWORD ul = 0;
        if (CryptDecodeObjectEx(X509_ASN_ENCODING, X509_ENHANCED_KEY_USAGE, eku, el, CRYPT_DECODE_ALLOC_FLAG, NULL, &u, &ul)) {
            for (DWORD i = 0; i < u->cUsageIdentifier; i++) printf("%s%s", i ? "," : "", u->rgpszUsageIdentifier[i]);
            if (u->cUsageIdentifier == 0) printf("(none)");
            LocalFree(u);
        } else printf("EKU-UNDECODABLE");
    } else printf("-");
    printf("\t%lu\n", (unsigned long)c->cbCertEncoded);
}

static DWORD location(const char *s) {
    if (!strcmp(s, "lm")) return CERT_SYSTEM_STORE_LOCAL_MACHINE;
    if (!strcmp(s, "lm-policy")) return CERT_SYSTEM_STORE_LOCAL_MACHINE_GROUP_POLICY;
    if (!strcmp(s, "cu")) return CERT_SYSTEM_STORE_CURRENT_USER;
    if (!strcmp(s, "cu-policy")) return CERT_SYSTEM_STORE_CURRENT_USER_GROUP_POLICY;
    fprintf(stderr, "unknown location %s\n", s); exit(2);
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "blob")) {
        DWORD len; BYTE *b = slurp(argv[2], &len);
        HCERTSTORE mem = CertOpenStore(CERT_STORE_PROV_MEMORY, 0, 0, 0, NULL);
        DWORD type = 0; const void *ctx = NULL;
        if (!CertAddSerializedElementToStore(mem, b, len, CERT_STORE_ADD_ALWAYS, 0,
                CERT_STORE_CERTIFICATE_CONTEXT_FLAG, &type, &ctx)) {
            printf("REJECTED\t0x%08lx\n", (unsigned long)GetLastError()); return 1;
        }
        print_cert((PCCERT_CONTEXT)ctx);
        return 0;
    }
    if (argc >= 4 && !strcmp(argv[1], "store")) {
        WCHAR wname[128]; MultiByteToWideChar(CP_UTF8, 0, argv[3], -1, wname, 128);
        HCERTSTORE s = CertOpenStore(CERT_STORE_PROV_SYSTEM_REGISTRY_W, 0, 0,
            location(argv[2]) | CERT_STORE_READONLY_FLAG | CERT_STORE_OPEN_EXISTING_FLAG, wname);
        if (!s) { printf("NOSTORE\t0x%08lx\n", (unsigned long)GetLastError()); return 1; }
        PCCERT_CONTEXT c = NULL; int n = 0;
        while ((c = CertEnumCertificatesInStore(s, c))) { print_cert(c); n++; }
        fprintf(stderr, "%d certificate(s)\n", n);
        return 0;
    }
    if (argc >= 4 && !strcmp(argv[1], "chain")) {
        DWORD len; BYTE *b = slurp(argv[2], &len);
        PCCERT_CONTEXT c = CertCreateCertificateContext(X509_ASN_ENCODING, b, len);
        if (!c) { printf("BADCERT\t0x%08lx\n", (unsigned long)GetLastError()); return 1; }
        /* Ask for Server Authentication, as a TLS client (Outlook, Schannel) does. */
        LPSTR usage[] = { szOID_PKIX_KP_SERVER_AUTH };
        CERT_CHAIN_PARA para = { sizeof para };
        para.RequestedUsage.dwType = USAGE_MATCH_TYPE_AND;
        para.RequestedUsage.Usage.cUsageIdentifier = 1;
        para.RequestedUsage.Usage.rgpszUsageIdentifier = usage;
        PCCERT_CHAIN_CONTEXT chain = NULL;
        if (!CertGetCertificateChain(NULL, c, NULL, NULL, &para, 0, NULL, &chain)) {
            printf("NOCHAIN\t0x%08lx\n", (unsigned long)GetLastError()); return 1;
        }
        WCHAR host[256]; MultiByteToWideChar(CP_UTF8, 0, argv[3], -1, host, 256);
        HTTPSPolicyCallbackData ssl = { { sizeof ssl }, AUTHTYPE_SERVER, 0, host };
        CERT_CHAIN_POLICY_PARA pp = { sizeof pp, 0, &ssl };
        CERT_CHAIN_POLICY_STATUS ps = { sizeof ps };
        CertVerifyCertificateChainPolicy(CERT_CHAIN_POLICY_SSL, chain, &pp, &ps);
        printf("trust-error-status=0x%08lx ssl-policy-error=0x%08lx\n",
               (unsigned long)chain->TrustStatus.dwErrorStatus, (unsigned long)ps.dwError);
        return ps.dwError == 0 ? 0 : 3;
    }
    fprintf(stderr, "usage: wincert blob FILE | store LOCATION NAME | chain CERTFILE HOST\n");
    return 2;
}
