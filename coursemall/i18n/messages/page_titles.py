"""Tab titles of the storefront pages (`@shop_page` adds " · <shop name>"). Dashboard pages use
their heading key as the title."""

MESSAGES = {
    "page.title.home": ("精品课程", "Courses"),
    "page.title.category": ("课程分类", "Category"),
    "page.title.course": ("课程详情", "Course"),
    "page.title.bundle": ("专栏", "Series"),
    "page.title.lesson": ("学习", "Lesson"),
    "page.title.search": ("搜索课程", "Search courses"),
    "page.title.sign_in": ("登录", "Sign in"),
    "page.title.register": ("注册", "Sign up"),
    "page.title.code_sign_in": ("验证码登录", "Sign in with a code"),
    "page.title.reset_password": ("重置密码", "Reset password"),
    "page.title.profile": ("个人中心", "My account"),
    "page.title.outbox": ("发件箱", "Outbox"),
    "page.title.cart": ("购物车", "Cart"),
    "page.title.cashier": ("沙箱收银台（测试模式）", "Sandbox cashier (test mode)"),
    "page.title.order": ("订单", "Order"),
    "page.title.orders": ("我的订单", "My orders"),
    "page.title.messages": ("消息中心", "Messages"),
    "page.title.learning": ("我的学习", "My learning"),
    "page.title.certificate": ("证书验证", "Certificate check"),
    "page.title.homework": ("课后作业", "Homework"),
    "page.title.checkin": ("每日打卡", "Daily check-in"),
    "page.title.policy": ("条款", "Policies"),
    "page.title.teach": ("申请成为讲师", "Become an instructor"),
    "page.title.setup": ("开店设置", "Shop setup"),
}
