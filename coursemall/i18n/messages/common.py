"""Shared strings: layout, navigation, generic errors."""

MESSAGES = {
    "error.generic": ("出了点问题，请稍后再试", "Something went wrong, please try again"),
    "error.bad_request": ("请求参数无效", "Invalid request"),
    "error.not_found": ("内容不存在或已下架", "Not found or no longer available"),
    "error.sign_in_required": ("请先登录", "Please sign in first"),
    "error.forbidden": ("没有权限执行此操作", "You are not allowed to do this"),
    "nav.home": ("首页", "Home"),
    "nav.categories": ("分类", "Categories"),
    "nav.search": ("搜索", "Search"),
    "nav.my": ("我的", "Me"),
    "nav.sign_in": ("登录", "Sign in"),
    "nav.register": ("注册", "Register"),
    "nav.sign_out": ("退出登录", "Sign out"),
    "nav.language": ("English", "中文"),
    "footer.copyright": ("© 2026 知行课堂 · 由 CourseMall 驱动", "© 2026 Zhixing Academy · Powered by CourseMall"),
    "common.loading": ("加载中…", "Loading…"),
    "common.free": ("免费", "Free"),
    "common.back": ("返回", "Back"),
    "common.save": ("保存", "Save"),
    "common.cancel": ("取消", "Cancel"),
    "common.submit": ("提交", "Submit"),
}
