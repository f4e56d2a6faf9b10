"""What the shipped templates contain: rules, demo managers, demo source data, targets.

Plain data only; `server.workbook.templates` lays it out as an Excel workbook. Names, e-mail
addresses and figures are invented. Values with unit "%" are fractions (0.988 is 98.8%), the
way Excel stores a percent-formatted cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The month the demo figures stand for: the demo's period (server/demo.py). The templates
# themselves carry no period; New period writes the month the person chooses.
DEMO_PERIOD = "2026-10"


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    name: str
    kind: str  # written in Chinese, as HR would: 定量 / 定性 / 加分 / 扣分
    weight: float | None
    source: str
    rule: str
    target: float | None = None
    floor: float | None = None
    cap: float | None = None
    params: str = ""
    unit: str = ""
    departments: str = ""
    positions: str = ""
    missing: str = ""
    adjust_by: str = "部门总监"
    adjust_max_up: float | None = None
    adjust_max_down: float | None = None
    description: str = ""

    def as_row(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass(frozen=True, slots=True)
class Manager:
    employee_id: str
    name: str
    department: str
    position: str
    email: str
    manager: str = ""


@dataclass(frozen=True, slots=True)
class Template:
    key: str  # file name without .xlsx
    title_zh: str
    title_en: str
    rules: tuple[Rule, ...] = ()
    roster: tuple[Manager, ...] = ()
    # employee id -> indicator code -> value; None leaves the value cell blank (missing data)
    values: dict[str, dict[str, object]] = field(default_factory=dict)
    targets: tuple[tuple[str, str, float | None, float | None, float | None, str], ...] = ()
    stale: frozenset[tuple[str, str]] = frozenset()  # (employee, code) kept from last pull
    provenance: dict[str, str] = field(default_factory=dict)  # source -> report name


SETTINGS: tuple[tuple[str, object, str], ...] = (
    ("评级方式 / Grading method", "分数段", "分数段 bands: 按分数线评级; 强制分布 forced: 按比例"),
    ("等级分数线 / Grade bands", "S:95,A:85,B:70,C:60,D:0", "总分 ≥ 分数线 / minimum total"),
    ("强制分布比例 / Quotas", "S:10%,A:20%,B:40%,C:20%,D:10%", "仅强制分布时使用 / forced only"),
    ("分布分组 / Distribution group", "部门",
     "部门 department、岗位 position、考核表 scorecard 或 公司 company"),
    ("缺数据默认处理 / Missing data default", "阻断", "阻断 block / 记零 zero / 排除 exclude"),
    ("总分封顶 / Total cap", 120, "含加分项后的总分上限 / ceiling after bonus"),
    ("语言 / Language", "zh", "说明与状态的语言 zh / en"),
)

RATING = "scale=A:100,B:85,C:70,D:50"

MANUFACTURING = Template(
    "manufacturing", "制造业中层管理者月度 KPI 考核", "Manufacturing managers - monthly KPI",
    rules=(
        Rule("PROD_EFF", "生产效率", "定量", 30, "erp", "ratio", target=0.95, cap=1.2,
             unit="%", adjust_max_up=3, adjust_max_down=3,
             description="实际效率 ÷ 目标效率 × 权重，最高 120% / actual ÷ target, cap 120%"),
        Rule("QUALITY", "产品不良率", "定量", 25, "qms", "reverse_linear", target=0.015,
             floor=0.04, unit="%", adjust_max_up=2, adjust_max_down=2,
             description="不良率 ≤ 1.5% 满分，≥ 4% 零分，之间线性 / lower is better"),
        Rule("SALES", "订单交付额", "定量", 20, "crm", "ratio", target=500, unit="万元",
             description="交付额 ÷ 目标，最高 100% / delivered ÷ target, cap 100%"),
        Rule("ATTEND", "考勤", "定量", 10, "attendance", "deduction", params="per=2",
             unit="次", missing="记零",
             description="每迟到一次扣 2 分，扣完为止 / 2 points per late arrival"),
        Rule("TEAMWORK", "团队协作", "定性", 15, "rating", "rating", params=RATING,
             adjust_by="人力资源部", description="部门评价 A/B/C/D = 100/85/70/50%"),
        Rule("SAFETY_AWARD", "安全表彰", "加分", None, "manual", "per_item",
             params="per=1; cap=3", unit="次", departments="一车间、二车间、三车间",
             missing="记零", description="每次表彰加 1 分，最多 3 分 / +1 each, at most 3"),
        Rule("QUALITY_INCIDENT", "质量事故", "扣分", None, "qms", "per_item",
             params="per=2; cap=6", unit="起", missing="记零",
             description="每起质量事故扣 2 分，最多 6 分 / -2 each, at most 6"),
    ),
    roster=(
        Manager("M1001", "张伟", "一车间", "车间主任", "zhang.wei@example.com", "周建国"),
        Manager("M1002", "王芳", "二车间", "车间主任", "wang.fang@example.com", "周建国"),
        Manager("M1003", "李强", "三车间", "车间主任", "li.qiang@example.com", "周建国"),
        Manager("M1004", "赵敏", "一车间", "副主任", "zhao.min@example.com", "张伟"),
        Manager("M1005", "刘洋", "质量部", "质量经理", "liu.yang@example.com", "孙丽华"),
        Manager("M1006", "陈静", "设备部", "设备经理", "chen.jing@example.com", "周建国"),
        Manager("M1007", "杨磊", "生产计划部", "计划经理", "yang.lei@example.com", "周建国"),
        Manager("M1008", "黄俊", "二车间", "副主任", "huang.jun@example.com", "王芳"),
    ),
    values={
        "M1001": {"PROD_EFF": 0.988, "QUALITY": 0.02, "SALES": 450, "ATTEND": 2,
                  "TEAMWORK": "B", "SAFETY_AWARD": 2, "QUALITY_INCIDENT": 0},
        "M1002": {"PROD_EFF": 1.178, "QUALITY": 0.012, "SALES": 560, "ATTEND": 0,
                  "TEAMWORK": "A", "SAFETY_AWARD": 1, "QUALITY_INCIDENT": 1},
        "M1003": {"PROD_EFF": 0.855, "QUALITY": 0.045, "SALES": 380, "ATTEND": 6,
                  "TEAMWORK": "C", "SAFETY_AWARD": 0, "QUALITY_INCIDENT": 2},
        "M1004": {"PROD_EFF": 0.95, "QUALITY": 0.018, "SALES": 500, "ATTEND": 1,
                  "TEAMWORK": "B", "SAFETY_AWARD": 0, "QUALITY_INCIDENT": 0},
        "M1005": {"PROD_EFF": 0.97, "QUALITY": 0.01, "SALES": 320, "ATTEND": 0,
                  "TEAMWORK": "A", "QUALITY_INCIDENT": 0},
        "M1006": {"PROD_EFF": 0.92, "QUALITY": 0.025, "SALES": 410, "ATTEND": 3,
                  "TEAMWORK": "B", "QUALITY_INCIDENT": 0},
        "M1007": {"PROD_EFF": 1.02, "QUALITY": 0.016, "SALES": 520, "ATTEND": 1,
                  "TEAMWORK": "A", "QUALITY_INCIDENT": 0},
        "M1008": {"PROD_EFF": 0.9, "QUALITY": 0.03, "SALES": 430, "ATTEND": 4,
                  "TEAMWORK": "D", "SAFETY_AWARD": 1, "QUALITY_INCIDENT": 1},
    },
    targets=(
        ("M1003", "PROD_EFF", 0.9, None, None, "三车间新线爬坡期 / new line ramp-up"),
        ("M1005", "SALES", 300, None, None, "质量部不直接负责交付 / smaller share"),
        ("M1006", "SALES", 400, None, None, ""),
    ),
    stale=frozenset({("M1006", "SALES")}),
    provenance={"erp": "ERP 生产日报 MES-EFF", "qms": "QMS 月度质量报表", "crm": "CRM 订单交付",
                "attendance": "考勤系统月报", "rating": "部门月度评价表", "manual": "安环部通报"},
)

RND = Template(
    "rnd", "研发中层管理者月度 KPI 考核", "R&D managers - monthly KPI",
    rules=(
        Rule("PROJ_PROGRESS", "项目进度", "定量", 25, "jira", "ratio", target=1, cap=1.1,
             unit="%", description="已完成故事点 ÷ 计划故事点 / completed ÷ planned story points"),
        Rule("DEFECT_ESCAPE", "缺陷逃逸率", "定量", 20, "jira", "reverse_linear", target=0.05,
             floor=0.2, unit="%", description="线上发现缺陷 ÷ 全部缺陷；≤5% 满分，≥20% 零分"),
        Rule("ON_TIME", "按期交付率", "定量", 20, "jira", "steps",
             params="steps=0.8:60,0.9:80,1:100; of=actual", unit="%",
             description="≥80% 得 60%，≥90% 得 80%，100% 满分 / step table on the rate"),
        Rule("CODE_REVIEW", "代码评审覆盖率", "定量", 15, "gitlab", "linear", target=0.95,
             floor=0.6, unit="%", description="60% 零分，95% 满分，之间线性 / linear 60%..95%"),
        Rule("TEAMWORK", "团队协作", "定性", 20, "rating", "rating", params=RATING,
             adjust_by="人力资源部", description="部门评价 A/B/C/D"),
        Rule("PATENT", "专利与创新", "加分", None, "manual", "per_item", params="per=2; cap=6",
             unit="项", missing="记零", description="每项受理专利或创新奖加 2 分，最多 6 分"),
        Rule("PROD_INCIDENT", "线上事故", "扣分", None, "jira", "per_item",
             params="per=3; cap=9", unit="起", missing="记零",
             description="P1/P2 线上事故每起扣 3 分，最多 9 分"),
    ),
    roster=(
        Manager("R2001", "孙浩", "研发一部", "研发经理", "sun.hao@example.com", "郑宏"),
        Manager("R2002", "周婷", "研发一部", "技术主管", "zhou.ting@example.com", "孙浩"),
        Manager("R2003", "吴凯", "研发二部", "研发经理", "wu.kai@example.com", "郑宏"),
        Manager("R2004", "郑雪", "研发二部", "技术主管", "zheng.xue@example.com", "吴凯"),
        Manager("R2005", "冯磊", "测试部", "测试经理", "feng.lei@example.com", "郑宏"),
        Manager("R2006", "何琳", "架构组", "首席架构师", "he.lin@example.com", "郑宏"),
    ),
    values={
        "R2001": {"PROJ_PROGRESS": 0.96, "DEFECT_ESCAPE": 0.08, "ON_TIME": 0.92,
                  "CODE_REVIEW": 0.88, "TEAMWORK": "A", "PATENT": 1, "PROD_INCIDENT": 0},
        "R2002": {"PROJ_PROGRESS": 1.05, "DEFECT_ESCAPE": 0.04, "ON_TIME": 1,
                  "CODE_REVIEW": 0.97, "TEAMWORK": "B", "PATENT": 0, "PROD_INCIDENT": 0},
        "R2003": {"PROJ_PROGRESS": 0.82, "DEFECT_ESCAPE": 0.12, "ON_TIME": 0.85,
                  "CODE_REVIEW": 0.75, "TEAMWORK": "B", "PATENT": 2, "PROD_INCIDENT": 1},
        "R2004": {"PROJ_PROGRESS": 0.9, "DEFECT_ESCAPE": 0.06, "ON_TIME": 0.9,
                  "CODE_REVIEW": 0.9, "TEAMWORK": "C", "PATENT": 0, "PROD_INCIDENT": 0},
        "R2005": {"PROJ_PROGRESS": 1, "DEFECT_ESCAPE": 0.03, "ON_TIME": 0.95,
                  "CODE_REVIEW": 0.8, "TEAMWORK": "A", "PATENT": 0, "PROD_INCIDENT": 0},
        "R2006": {"PROJ_PROGRESS": 0.88, "DEFECT_ESCAPE": 0.05, "ON_TIME": 0.78,
                  "CODE_REVIEW": 1, "TEAMWORK": "A", "PATENT": 3, "PROD_INCIDENT": 0},
    },
    targets=(("R2006", "PROJ_PROGRESS", 0.85, None, None, "预研项目 / research project"),),
    provenance={"jira": "Jira 项目看板导出", "gitlab": "GitLab 合并请求统计",
                "rating": "部门月度评价表", "manual": "知识产权办公室"},
)

SALES = Template(
    "sales", "销售中层管理者月度 KPI 考核", "Sales managers - monthly KPI",
    rules=(
        Rule("REVENUE", "销售回款额", "定量", 35, "crm", "ratio", target=800, cap=1.3,
             unit="万元", adjust_max_up=5, adjust_max_down=5,
             description="实际 ÷ 目标，最高 130% / actual ÷ target, cap 130%"),
        Rule("COLLECTION", "回款率", "定量", 20, "finance", "linear", target=0.95, floor=0.7,
             unit="%", description="70% 零分，95% 满分 / linear from 70% to 95%"),
        Rule("NEW_CUSTOMERS", "新客户数", "定量", 15, "crm", "steps",
             params="steps=3:60,5:80,8:100; of=actual", unit="家",
             description="3 家得 60%，5 家得 80%，8 家满分 / step table on the count"),
        Rule("REPURCHASE", "复购率", "定量", 15, "crm", "band", target=0.4,
             params="tolerance=0.05; zero_at=0.2", unit="%",
             description="40% ± 5% 满分，偏离 20 个百分点为零 / full within ±5 pts"),
        Rule("COMPLAINTS", "客户投诉", "定量", 15, "crm", "deduction", params="per=5",
             unit="起", missing="记零", description="每起有效投诉扣 5 分 / 5 points each"),
        Rule("KEY_ACCOUNT", "战略客户突破", "加分", None, "manual", "per_item",
             params="per=3; cap=6", unit="家", missing="记零",
             description="签约战略客户每家加 3 分，最多 6 分"),
        Rule("COMPLIANCE", "合规违规", "扣分", None, "manual", "per_item",
             params="per=5; cap=10", unit="起", missing="记零",
             description="违反销售合规每起扣 5 分，最多 10 分"),
    ),
    roster=(
        Manager("S3001", "林峰", "华东大区", "大区经理", "lin.feng@example.com", "钱志远"),
        Manager("S3002", "徐倩", "华东大区", "城市经理", "xu.qian@example.com", "林峰"),
        Manager("S3003", "高翔", "华南大区", "大区经理", "gao.xiang@example.com", "钱志远"),
        Manager("S3004", "罗敏", "华南大区", "城市经理", "luo.min@example.com", "高翔"),
        Manager("S3005", "梁晨", "华北大区", "大区经理", "liang.chen@example.com", "钱志远"),
        Manager("S3006", "宋佳", "大客户部", "大客户经理", "song.jia@example.com", "钱志远"),
    ),
    values={
        "S3001": {"REVENUE": 920, "COLLECTION": 0.93, "NEW_CUSTOMERS": 6, "REPURCHASE": 0.43,
                  "COMPLAINTS": 1, "KEY_ACCOUNT": 1, "COMPLIANCE": 0},
        "S3002": {"REVENUE": 310, "COLLECTION": 0.88, "NEW_CUSTOMERS": 3, "REPURCHASE": 0.35,
                  "COMPLAINTS": 0, "KEY_ACCOUNT": 0, "COMPLIANCE": 0},
        "S3003": {"REVENUE": 760, "COLLECTION": 0.97, "NEW_CUSTOMERS": 8, "REPURCHASE": 0.41,
                  "COMPLAINTS": 0, "KEY_ACCOUNT": 2, "COMPLIANCE": 0},
        "S3004": {"REVENUE": 280, "COLLECTION": 0.76, "NEW_CUSTOMERS": 2, "REPURCHASE": 0.28,
                  "COMPLAINTS": 2, "KEY_ACCOUNT": 0, "COMPLIANCE": 1},
        "S3005": {"REVENUE": 640, "COLLECTION": 0.9, "NEW_CUSTOMERS": 5, "REPURCHASE": 0.38,
                  "COMPLAINTS": 1, "KEY_ACCOUNT": 0, "COMPLIANCE": 0},
        "S3006": {"REVENUE": 1150, "COLLECTION": 0.95, "NEW_CUSTOMERS": 4, "REPURCHASE": 0.52,
                  "COMPLAINTS": 0, "KEY_ACCOUNT": 1, "COMPLIANCE": 0},
    },
    targets=(
        ("S3002", "REVENUE", 300, None, None, "城市经理目标 / city manager target"),
        ("S3004", "REVENUE", 300, None, None, "城市经理目标 / city manager target"),
        ("S3006", "REVENUE", 1000, None, None, "大客户部年度分解 / key accounts"),
    ),
    provenance={"crm": "CRM 销售报表", "finance": "财务应收月报", "manual": "销售运营部通报"},
)

BLANK = Template("blank", "KPI 考核（空白模板）", "KPI scoring - blank template")

TEMPLATES: dict[str, Template] = {t.key: t for t in (MANUFACTURING, RND, SALES, BLANK)}
