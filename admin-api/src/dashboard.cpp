#include "dashboard.h"

namespace pgmux::admin::detail {

std::string_view dashboard_html() {
    return R"PGMUX(<!doctype html>
<html><head><meta charset="utf-8"><title>pgmux</title></head>
<body><h1>pgmux</h1></body></html>
)PGMUX";
}

}  // namespace pgmux::admin::detail
