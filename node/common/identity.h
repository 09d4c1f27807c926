// What the admin tool and the daemon load from HOME that needs X.509 (OpenSSL): the consortium CA,
// the institution's own signing identity, and the Trust built from verified signing certificates.
// The lookup CLI never includes this.
#pragma once

#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/pki.h"
#include "node/common/config.h"
#include "protocol/record.h"

namespace duanka::node {

// The CA (and CRL, when configured) named by the config. kIo/kInvalidInput naming the file.
Result<crypto::TrustStore> LoadTrustStore(const Config& config);

struct SigningIdentity {
  crypto::SigningKey key;
  crypto::CertificateInfo certificate;  // verified against the CA, CN = config.institution
  protocol::Signer signer() const;
};

// The DER certificates of a PEM file of at most 64 KiB: kIo when it cannot be read,
// kInvalidInput naming the file when it holds no valid certificate.
Result<std::vector<std::string>> ReadCertificates(const std::filesystem::path& file);

// The institution this node is a read replica of, when its TLS certificate (files.tls_cert) has
// the replica role; nullopt for an institution's own node, or when the file does not read as a
// certificate (the daemon's TLS set-up reports that).
std::optional<std::string> ReplicaOf(const Config& config);
// The same for a DER certificate already read: its institution when its role is replica.
std::optional<std::string> ReplicaOfCertificate(std::string_view der);

// Loads signing.key and signing.pem, checks that the certificate is the consortium's, of the
// signing kind, for this institution, currently valid, and certifies this very key. On a read
// replica, kConflict saying where to sign instead: a replica signs nothing.
Result<SigningIdentity> LoadSigningIdentity(const Config& config, const crypto::TrustStore& ca);

protocol::Signer SignerOf(const crypto::CertificateInfo& certificate);

// Verifies each DER signing certificate against the CA and adds the good ones to `trust`.
// Returns the refusals (one line each); a refused certificate is simply not trusted.
std::vector<Error> AddSigners(const crypto::TrustStore& ca, std::span<const std::string> ders,
                              protocol::Trust& trust);

}  // namespace duanka::node
