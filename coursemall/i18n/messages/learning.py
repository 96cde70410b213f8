"""Learning: progress, comments, reviews, notes and questions, check-ins, homework, certificates."""

MESSAGES = {
    # errors raised by the learning services
    "progress.bad_position": ("播放位置无效", "Invalid playback position"),
    "learning.busy": ("操作太频繁，请稍后再试", "Too busy right now; please try again"),
    "learning.image_too_large": ("图片过大（最大 {mb} MB）", "The image is too large ({mb} MB max)"),
    "text.too_long": ("内容太长，最多 {max} 字", "Too long: at most {max} characters"),
    "text.empty": ("请输入内容", "Please write something"),
    "text.blocked": ("内容包含不允许的词语，请修改后再发", "The text contains words that are not allowed; please edit it"),
    "comment.not_found": ("评论不存在或已删除", "Comment not found or deleted"),
    "review.bad_rating": ("请选择 1–5 星", "Choose 1 to 5 stars"),
    "review.buyers_only": ("购买课程后才能评价", "Only learners who bought the course can review it"),
    "review.not_found": ("评价不存在", "Review not found"),
    "note.not_found": ("笔记或提问不存在", "Note or question not found"),
    "checkin.not_learner": ("加入课程后才能打卡", "Join the course to check in"),
    "checkin.already_today": ("今天已经打过卡了，明天再来吧", "You have already checked in today; come back tomorrow"),
    "checkin.not_image": ("无法识别的图片，请上传 JPG、PNG、WebP 或 GIF", "Not a usable image; upload a JPG, PNG, WebP or GIF"),
    "homework.not_image": ("作业图片无法识别，请上传 JPG、PNG、WebP 或 GIF", "A homework image is not usable; upload JPG, PNG, WebP or GIF"),
    "homework.too_many_images": ("最多上传 {max} 张图片", "At most {max} images"),
    "homework.already_graded": ("作业已批改，不能再修改", "This homework has been graded and can no longer be changed"),
    "homework.already_submitted": ("作业已提交，请刷新后再试", "Homework already submitted; refresh and try again"),
    "homework.bad_score": ("分数须为 0–100 的整数", "The score must be a whole number from 0 to 100"),
    "homework.not_found": ("作业不存在", "Homework not found"),
    "certificate.not_complete": ("学完全部课时后才能领取证书", "Finish every lesson to get the certificate"),
    "certificate.not_found": ("证书不存在", "Certificate not found"),
    # notifications (create_message keys: <key>.title / <key>.body)
    "msg.question_answered.title": ("你的提问有了回答", "Your question has an answer"),
    "msg.question_answered.body": ("你在「{lesson}」中的提问已得到讲师回复，点击查看。",
                                   "Your question in \"{lesson}\" has been answered by the instructor."),
    "msg.homework_graded.title": ("作业已批改", "Homework graded"),
    "msg.homework_graded.body": ("你在「{lesson}」的作业已批改，得分 {score}，点击查看老师的反馈。",
                                 "Your homework for \"{lesson}\" was graded: {score}/100. Open it to read the feedback."),
}
