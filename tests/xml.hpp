// Reading the SVG pictures back in tests with an independent, conforming XML parser
// (libxml2): a document that is not well-formed XML (a raw & or <, a bad UTF-8 byte, a
// mismatched tag) is refused, and XPath counts cells, points and labels.
#pragma once

#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace test {

class Xml {
 public:
  // Parses text; ok() is false (and error() says why) when it is not well-formed XML.
  explicit Xml(const std::string& text) {
    doc_ = xmlReadMemory(text.data(), static_cast<int>(text.size()), "picture.svg", "UTF-8",
                         XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (doc_ == nullptr) {
      const xmlError* e = xmlGetLastError();
      error_ = e != nullptr && e->message != nullptr ? e->message : "not well-formed";
      return;
    }
    ctx_ = xmlXPathNewContext(doc_);
    xmlXPathRegisterNs(ctx_, BAD_CAST "svg", BAD_CAST "http://www.w3.org/2000/svg");
  }
  ~Xml() {
    if (ctx_ != nullptr) xmlXPathFreeContext(ctx_);
    if (doc_ != nullptr) xmlFreeDoc(doc_);
  }
  Xml(const Xml&) = delete;
  Xml& operator=(const Xml&) = delete;

  bool ok() const { return doc_ != nullptr; }
  const std::string& error() const { return error_; }

  // The value of a numeric XPath expression, e.g. count(//svg:rect[@class='cell']).
  double number(const std::string& xpath) const {
    xmlXPathObjectPtr r = eval(xpath);
    const double v = xmlXPathCastToNumber(r);
    xmlXPathFreeObject(r);
    return v;
  }

  // The text content of every node an XPath expression selects, in document order.
  std::vector<std::string> texts(const std::string& xpath) const {
    xmlXPathObjectPtr r = eval(xpath);
    std::vector<std::string> out;
    if (r->nodesetval != nullptr)
      for (int i = 0; i < r->nodesetval->nodeNr; ++i) {
        xmlChar* c = xmlNodeGetContent(r->nodesetval->nodeTab[i]);
        out.emplace_back(c != nullptr ? reinterpret_cast<const char*>(c) : "");
        xmlFree(c);
      }
    xmlXPathFreeObject(r);
    return out;
  }

 private:
  xmlXPathObjectPtr eval(const std::string& xpath) const {
    if (ctx_ == nullptr) throw std::runtime_error("not a parsed document: " + error_);
    xmlXPathObjectPtr r = xmlXPathEvalExpression(BAD_CAST xpath.c_str(), ctx_);
    if (r == nullptr) throw std::runtime_error("bad XPath expression: " + xpath);
    return r;
  }

  xmlDocPtr doc_ = nullptr;
  xmlXPathContextPtr ctx_ = nullptr;
  std::string error_;
};

}  // namespace test
