"""Lesson player, my learning centre and the certificate page."""

MESSAGES = {
    "nav.learning": ("学习", "Learning"),
    # player
    "player.speed": ("倍速", "Speed"),
    "player.outline": ("课程目录", "Contents"),
    "player.course_progress": ("课程进度", "Course progress"),
    "player.lesson_done": ("本节已学完", "Lesson complete"),
    "player.certificate_link": ("已学完全部课时，查看结业证书", "Course complete: view your certificate"),
    "player.note_button": ("记笔记 / 提问", "Note / question"),
    "player.note_placeholder": ("在当前时间点记下笔记或提出问题", "Write a note or a question at this moment"),
    "player.note_save": ("保存", "Save"),
    "player.note_saved": ("笔记已保存", "Note saved"),
    "player.question_saved": ("问题已提交，讲师回答后会通知你", "Question sent; you will be told when it is answered"),
    "player.kind_note": ("笔记", "Note"),
    "player.kind_question": ("提问", "Question"),
    "player.answer": ("讲师回答", "Answer"),
    # my learning
    "learning.title": ("我的学习", "My learning"),
    "learning.my_courses": ("我的课程", "My courses"),
    "learning.recent": ("最近学习", "Recently studied"),
    "learning.continue": ("继续学习", "Continue"),
    "learning.lessons_done": ("已学 {done}/{total} 节", "{done} of {total} lessons done"),
    "learning.chart_title": ("近 30 天学习时长（分钟）", "Minutes studied, last 30 days"),
    "learning.streak_current": ("连续学习天数", "Day streak"),
    "learning.streak_longest": ("最长连续天数", "Longest streak"),
    "learning.today_minutes": ("今日分钟", "Minutes today"),
    "learning.total_minutes": ("累计分钟", "Minutes in total"),
    "learning.empty": ("还没有课程，去挑一门开始学习吧", "No courses yet: pick one and start learning"),
    "learning.sign_in": ("登录后查看你的学习记录", "Sign in to see your learning"),
    # certificate page
    "certificate.verified": ("证书真实有效", "Certificate verified"),
    "certificate.learner": ("学员", "Learner"),
    "certificate.course": ("课程", "Course"),
    "certificate.date": ("颁发日期", "Issued on"),
    "certificate.code": ("证书编号", "Certificate code"),
}
