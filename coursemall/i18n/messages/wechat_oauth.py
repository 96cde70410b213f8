"""WeChat OAuth (openid for JSAPI pay inside the WeChat browser)."""

MESSAGES = {
    "wechat.oauth_unavailable": ("微信内支付暂未开通，请在手机浏览器中打开本页支付",
                                 "Paying inside WeChat is not set up; open this page in your phone's browser"),
    "wechat.oauth_state_invalid": ("微信授权链接无效或已使用，请返回订单重新支付",
                                   "This WeChat authorisation link is invalid or already used; go back to the order and pay again"),
    "wechat.oauth_state_expired": ("微信授权已超时，请返回订单重新支付",
                                   "The WeChat authorisation timed out; go back to the order and pay again"),
    "wechat.oauth_code_invalid": ("微信授权码无效或已过期，请重新支付",
                                  "The WeChat authorisation code is invalid or expired; please pay again"),
    "wechat.oauth_failed": ("微信授权失败，请稍后再试", "WeChat authorisation failed; please try again later"),
    "wechat.oauth_unreachable": ("暂时无法连接微信，请稍后再试", "WeChat cannot be reached right now; please try again later"),
    "wechat.openid_taken": ("这个微信已绑定另一个账号，请用该账号登录后支付，或在手机浏览器中支付",
                            "This WeChat is linked to another account; sign in with that account or pay in your phone's browser"),
    "wechat.oauth_error_title": ("微信授权未完成", "WeChat authorisation not completed"),
    "wechat.back_to_order": ("返回订单", "Back to the order"),
}
