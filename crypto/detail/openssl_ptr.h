// RAII owners for the OpenSSL objects the PKI code uses, and the OpenSSL error queue as one line.
//
// Every OpenSSL allocation in crypto/ goes straight into one of these pointers, so that no early
// return can leak it. Private to crypto/: nothing outside the module includes detail/.
#pragma once

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <string_view>

namespace duanka::crypto::detail {

template <auto FreeFn>
struct OpenSslDeleter {
  template <typename T>
  void operator()(T* p) const {
    FreeFn(p);
  }
};

// OPENSSL_free is a macro, so it cannot be a template argument.
struct OpenSslFree {
  void operator()(void* p) const { OPENSSL_free(p); }
};

using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, OpenSslDeleter<X509_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, OpenSslDeleter<X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, OpenSslDeleter<X509_STORE_CTX_free>>;
using X509CrlPtr = std::unique_ptr<X509_CRL, OpenSslDeleter<X509_CRL_free>>;
using X509RevokedPtr = std::unique_ptr<X509_REVOKED, OpenSslDeleter<X509_REVOKED_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, OpenSslDeleter<X509_NAME_free>>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, OpenSslDeleter<X509_EXTENSION_free>>;
using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<BIO_free_all>>;
using BignumPtr = std::unique_ptr<BIGNUM, OpenSslDeleter<BN_free>>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, OpenSslDeleter<ASN1_INTEGER_free>>;
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, OpenSslDeleter<ASN1_TIME_free>>;
using Asn1OctetStringPtr =
    std::unique_ptr<ASN1_OCTET_STRING, OpenSslDeleter<ASN1_OCTET_STRING_free>>;
using Asn1Ia5StringPtr = std::unique_ptr<ASN1_IA5STRING, OpenSslDeleter<ASN1_IA5STRING_free>>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, OpenSslDeleter<GENERAL_NAME_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, OpenSslDeleter<GENERAL_NAMES_free>>;
using OpenSslString = std::unique_ptr<char, OpenSslFree>;
using OpenSslBytes = std::unique_ptr<unsigned char, OpenSslFree>;

// How many queued OpenSSL errors a message names; the first ones say what went wrong, the rest
// are usually the same failure reported again by each caller on the way up.
inline constexpr int kMaxOpenSslErrorsInMessage = 3;

// "CONTEXT: LIBRARY: REASON (DATA); ..." from this thread's OpenSSL error queue, on one line, and
// empties the queue so that the next operation starts clean. "CONTEXT" alone if nothing is queued.
inline std::string OpenSslError(std::string_view context) {
  std::string message(context);
  int named = 0;
  const char* data = nullptr;
  int flags = 0;
  for (unsigned long code = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags); code != 0;
       code = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) {
    if (named == kMaxOpenSslErrorsInMessage) continue;  // drain the rest without naming them
    message += named == 0 ? ": " : "; ";
    const char* lib = ERR_lib_error_string(code);
    const char* reason = ERR_reason_error_string(code);
    if (lib != nullptr) {
      message += lib;
      message += ": ";
    }
    message += reason != nullptr ? reason : "unknown error";
    if (data != nullptr && (flags & ERR_TXT_STRING) != 0 && *data != '\0') {
      message += " (";
      message += data;
      message += ")";
    }
    ++named;
  }
  // OpenSSL's detail text sometimes holds line breaks; callers promise one line.
  for (char& c : message) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return message;
}

}  // namespace duanka::crypto::detail
