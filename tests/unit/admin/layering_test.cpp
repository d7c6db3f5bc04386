// admin-api knows the proxy only through ControlPlane: no file under
// admin-api/ may include anything from src/ (or pinning/, parser/).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>

namespace {

namespace fs = std::filesystem;

TEST(AdminLayering, IncludesStayInsideAdminApi) {
    const fs::path root = PGMUX_ADMIN_SOURCE_DIR;
    const std::regex include_line(R"(^\s*#\s*include\s*([<"])([^>"]+)[>"])");
    std::size_t files = 0;
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
        if (!entry.is_regular_file()) continue;
        const auto ext = entry.path().extension();
        if (ext != ".h" && ext != ".hpp" && ext != ".cpp") continue;
        ++files;
        std::ifstream in(entry.path());
        std::size_t number = 0;
        for (std::string line; std::getline(in, line);) {
            ++number;
            std::smatch match;
            if (!std::regex_search(line, match, include_line)) continue;
            const std::string path = match[2];
            const std::string where = entry.path().string() + ":" + std::to_string(number);
            EXPECT_EQ(path.find(".."), std::string::npos) << where << " climbs out: " << path;
            if (path.starts_with("pgmux/")) {
                EXPECT_TRUE(path.starts_with("pgmux/admin/")) << where << " includes " << path;
            } else if (match[1] == "\"") {
                // Quoted includes are admin-api's own private headers.
                EXPECT_TRUE(fs::exists(root / "src" / path)) << where << " includes " << path;
            }
            for (const char* forbidden : {"src/", "protocol/", "session/", "backend/", "pool/",
                                          "runtime/", "net/", "pinning/", "parser/"}) {
                EXPECT_FALSE(path.starts_with(forbidden)) << where << " includes " << path;
            }
        }
    }
    EXPECT_GT(files, 10u);
}

TEST(AdminLayering, CMakeDoesNotReachOutside) {
    std::ifstream in(fs::path(PGMUX_ADMIN_SOURCE_DIR) / "CMakeLists.txt");
    const std::string text((std::istreambuf_iterator<char>(in)), {});
    ASSERT_FALSE(text.empty());
    EXPECT_EQ(text.find(".."), std::string::npos);
    EXPECT_EQ(text.find("PROJECT_SOURCE_DIR"), std::string::npos);
    EXPECT_EQ(text.find("pgmux_core"), std::string::npos);
}

}  // namespace
